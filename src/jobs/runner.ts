/**
 * The one runner for every background loop. A job is a `tick(now)` that does one round of due work;
 * the runner calls it on the job's interval, at once again while it reports more work, and early
 * when `wake(name)` is called after a commit that concerns it. A tick that throws is logged with the
 * job's name and retried on the next interval; it never stops the other jobs. Tests step jobs by
 * hand with `tick(now)` and an injectable clock instead of starting the runner.
 */
import type { Logger } from "@/lib/log";
import type { Clock } from "@/lib/time";

export interface Job {
  readonly name: string;
  /** Longest wait between two ticks when nothing wakes the job. */
  readonly intervalMs: number;
  /** Ticks run at once (separate loops; default 1): lets a job keep work in flight while it records a batch. */
  readonly concurrency?: number;
  /** One round of work due at `now`. Returns true when more is due right away (the runner ticks again at once). */
  tick(now: number): Promise<boolean> | boolean;
  /** Called once after the job's last tick, on stop (close pools, flush buffers). */
  close?(): Promise<void> | void;
}

/** Told about each registered job and each finished tick (the metrics). */
export interface JobObserver {
  registered(job: string, intervalMs: number, now: number): void;
  ticked(job: string, seconds: number, ok: boolean, now: number): void;
}

/** Wait after a failed tick: short, so a transient fault (disk full, busy lock) heals within seconds. */
const RETRY_AFTER_ERROR_MS = 1000;

interface Loop {
  job: Job;
  wake: () => void;
  woken: boolean;
  idle: boolean;
  done: Promise<void>;
}

export class JobRunner {
  private readonly loops = new Map<string, Loop[]>();
  private readonly jobs: Job[] = [];
  private running = false;

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly observer?: JobObserver,
  ) {}

  /** Registers a job (before or after start); names are unique. */
  add(job: Job): this {
    if (this.jobs.some((j) => j.name === job.name)) throw new Error(`job ${job.name} registered twice`);
    this.jobs.push(job);
    this.observer?.registered(job.name, job.intervalMs, this.clock.now());
    if (this.running) this.startLoop(job);
    return this;
  }

  get(name: string): Job | undefined {
    return this.jobs.find((j) => j.name === name);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const job of this.jobs) this.startLoop(job);
  }

  /**
   * Wakes the job now (cheap: a flag and a resolved timer): one idle loop, or, when all are busy,
   * marks one to tick again right after its tick in flight. Unknown names are ignored.
   */
  wake(name: string): void {
    const loops = this.loops.get(name);
    if (!loops?.length) return;
    const loop = loops.find((l) => l.idle) ?? loops[0]!;
    loop.woken = true;
    loop.wake();
  }

  /**
   * Stops every loop after its tick in flight, in reverse registration order (later jobs may depend
   * on earlier ones), waiting at most `timeoutMs` per job, then closes each job.
   */
  async stop(timeoutMs: number): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const job of [...this.jobs].reverse()) {
      const loops = this.loops.get(job.name) ?? [];
      for (const loop of loops) loop.wake();
      await Promise.race([Promise.all(loops.map((l) => l.done)), new Promise<void>((r) => setTimeout(r, timeoutMs).unref?.())]);
      this.loops.delete(job.name);
      try {
        await job.close?.();
      } catch (err) {
        this.log.error("job.close_failed", { job: job.name, error: (err as Error).message });
      }
    }
  }

  private startLoop(job: Job): void {
    const loops = Array.from({ length: Math.max(1, job.concurrency ?? 1) }, (): Loop => ({ job, wake: () => {}, woken: false, idle: false, done: Promise.resolve() }));
    this.loops.set(job.name, loops);
    for (const loop of loops) loop.done = this.run(loop);
  }

  private async run(loop: Loop): Promise<void> {
    const { job } = loop;
    while (this.running) {
      let more = false;
      let wait = job.intervalMs;
      loop.woken = false;
      const started = performance.now();
      let ok = true;
      try {
        more = await job.tick(this.clock.now());
      } catch (err) {
        ok = false;
        this.log.error("job.tick_failed", { job: job.name, error: (err as Error).message, code: (err as { code?: string }).code, stack: (err as Error).stack });
        wait = Math.min(wait, RETRY_AFTER_ERROR_MS);
      }
      this.observer?.ticked(job.name, (performance.now() - started) / 1000, ok, this.clock.now());
      if (!this.running) break;
      // More work: this loop goes on, and an idle sibling joins in (concurrent ticks under backlog).
      if (more) this.wakeIdleSibling(loop);
      if (more || loop.woken) {
        // Let I/O in between ticks: a synchronous tick that keeps finding work must not hold the
        // event loop (HTTP requests wait otherwise, e.g. behind a large dispatch backlog).
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      loop.idle = true;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        loop.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      loop.wake = () => {};
      loop.idle = false;
    }
  }

  private wakeIdleSibling(loop: Loop): void {
    const idle = this.loops.get(loop.job.name)?.find((l) => l !== loop && l.idle);
    if (idle) {
      idle.woken = true;
      idle.wake();
    }
  }
}
