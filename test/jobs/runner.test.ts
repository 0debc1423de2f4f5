/**
 * The job runner's own loop, with real timers (short intervals) and a memory logger: a failing job
 * is logged and retried without stopping the others, wake() and more=true tick again at once,
 * stop() drains the tick in flight before close(), concurrency runs that many loops. Assertions
 * wait for conditions (`eventually`), never for a guessed time.
 */
import { afterEach, expect, test } from "bun:test";
import { JobRunner, type Job } from "@/jobs/runner";
import { createMemoryLogger } from "@/lib/log";
import { fakeClock } from "../harness";
import { eventually } from "../smtp/helpers";

const HOUR = 3_600_000;
let runner: JobRunner;
let log: ReturnType<typeof createMemoryLogger>;
const clock = fakeClock();

function start(...jobs: Job[]): JobRunner {
  log = createMemoryLogger();
  runner = new JobRunner(log, clock);
  for (const job of jobs) runner.add(job);
  runner.start();
  return runner;
}

afterEach(() => runner?.stop(1000));

/** A promise the test resolves by hand (a tick that is "in flight" until then). */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

/** A job that counts its ticks; `body` decides what each tick does. */
function counting(name: string, intervalMs: number, body: (n: number) => Promise<boolean> | boolean = () => false) {
  const job = { name, intervalMs, ticks: 0, nows: [] as number[], tick: (now: number) => (job.nows.push(now), body(++job.ticks)) };
  return job;
}

test("a job that throws is logged with its name and retried on its next tick; the other job keeps running", async () => {
  const broken = counting("broken", 10, (n) => {
    if (n <= 2) throw Object.assign(new Error(`disk I/O error ${n}`), { code: "SQLITE_IOERR" });
    return false;
  });
  const healthy = counting("healthy", 10);
  start(broken, healthy);
  await eventually(() => broken.ticks >= 3 && healthy.ticks >= 3);
  const failed = log.lines().filter((l) => l.event === "job.tick_failed");
  expect(failed.map((l) => [l.level, l.job, l.error, l.code])).toEqual([
    ["error", "broken", "disk I/O error 1", "SQLITE_IOERR"],
    ["error", "broken", "disk I/O error 2", "SQLITE_IOERR"],
  ]);
  expect(broken.nows.every((n) => n === clock.now())).toBe(true);
});

test("a failed tick is retried within a second even when the interval is long", async () => {
  const broken = counting("broken", HOUR, (n) => {
    if (n === 1) throw new Error("busy");
    return false;
  });
  start(broken);
  await eventually(() => broken.ticks >= 2, 3000);
});

test("wake(name) makes an idle job tick at once; other jobs and unknown names are unaffected", async () => {
  const idle = counting("idle", HOUR);
  const other = counting("other", HOUR);
  start(idle, other);
  await eventually(() => idle.ticks === 1 && other.ticks === 1);
  runner.wake("idle");
  runner.wake("no-such-job");
  await eventually(() => idle.ticks === 2);
  expect(other.ticks).toBe(1);
});

test("a wake while the tick is in flight ticks again right after it", async () => {
  const inFlight = gate();
  const job = counting("busy", HOUR, async (n) => {
    if (n === 1) await inFlight.opened;
    return false;
  });
  start(job);
  await eventually(() => job.ticks === 1);
  runner.wake("busy");
  inFlight.open();
  await eventually(() => job.ticks === 2);
});

test("more = true ticks again at once until the job reports no more", async () => {
  const job = counting("backlog", HOUR, (n) => n < 4);
  start(job);
  await eventually(() => job.ticks === 4);
  runner.wake("backlog");
  await eventually(() => job.ticks === 5);
});

test("stop() waits for the tick in flight, then calls close(); no tick starts after it", async () => {
  const order: string[] = [];
  const inFlight = gate();
  const job: Job = {
    name: "draining",
    intervalMs: 10,
    async tick() {
      order.push("tick");
      await inFlight.opened;
      order.push("tick done");
      return true;
    },
    close: () => void order.push("close"),
  };
  start(job);
  await eventually(() => order.length === 1);
  const stopped = runner.stop(5000);
  // A stop() that did not wait would close the job now, while the tick is still in flight.
  await Bun.sleep(30);
  expect(order).toEqual(["tick"]);
  inFlight.open();
  await stopped;
  expect(order).toEqual(["tick", "tick done", "close"]);
});

test("stop() gives up on a tick that never ends after its timeout and still closes the job", async () => {
  let closed = false;
  start({ name: "stuck", intervalMs: 10, tick: () => new Promise<boolean>(() => {}), close: () => void (closed = true) });
  await runner.stop(50);
  expect(closed).toBe(true);
});

test("stop() closes jobs in reverse registration order and logs a close that throws", async () => {
  const closed: string[] = [];
  const job = (name: string, fail = false): Job => ({
    name,
    intervalMs: HOUR,
    tick: () => false,
    close() {
      closed.push(name);
      if (fail) throw new Error("pool close failed");
    },
  });
  start(job("first"), job("second", true), job("third"));
  await runner.stop(1000);
  expect(closed).toEqual(["third", "second", "first"]);
  expect(log.lines().filter((l) => l.event === "job.close_failed").map((l) => [l.job, l.error])).toEqual([["second", "pool close failed"]]);
});

test("concurrency > 1 runs that many ticks at once", async () => {
  const inFlight = gate();
  let running = 0;
  let peak = 0;
  const job: Job = {
    name: "parallel",
    intervalMs: HOUR,
    concurrency: 3,
    async tick() {
      peak = Math.max(peak, ++running);
      await inFlight.opened;
      running--;
      return false;
    },
  };
  start(job);
  await eventually(() => running === 3);
  inFlight.open();
  await eventually(() => running === 0);
  expect(peak).toBe(3);
});

test("a job added after start() runs; a second job with the same name is refused", async () => {
  start();
  const late = counting("late", HOUR);
  runner.add(late);
  await eventually(() => late.ticks === 1);
  expect(() => runner.add(counting("late", HOUR))).toThrow("job late registered twice");
});

test("a synchronous tick that keeps finding work lets I/O in between ticks", async () => {
  const busy = counting("busy", HOUR, (n) => n < 100_000);
  start(busy);
  // A timer stands for an HTTP request waiting for the event loop: it must run long before the backlog ends.
  const ticksWhenTimerRan = await new Promise<number>((resolve) => setTimeout(() => resolve(busy.ticks), 0));
  expect(ticksWhenTimerRan).toBeLessThan(10_000);
});
