/**
 * Background work yields to the API. The main thread (which answers every HTTP request) measures
 * its own demand for CPU and publishes it in memory shared with the other threads; background
 * loops there (webhook attempts, bulk mail, inbound bounces) call `Pacer.yield()` between units of
 * work and, while the API thread is busy, keep to a small share of a core. On 2 cores a webhook
 * flood, a broadcast drain or a DSN flood at full speed otherwise multiplied the API's p99 latency
 * (docs/benchmarks.md). Work is slowed, never dropped: each window lets at least one unit through.
 */
import { setPriority } from "node:os";
import { readFileSync } from "node:fs";

/** How often the main thread measures itself. */
const SAMPLE_MS = 100;
/** The load published is the highest of the last few samples: one quiet sample does not end "busy". */
const HOLD_SAMPLES = 5;
/** The API thread counts as busy from this share of one core (per mille). */
export const BUSY_PERMILLE = 700;
/**
 * Share of one core each paced thread keeps to while the API is busy. On 2 cores (bench/webhooks.ts,
 * bench/inbound.ts, bench/delivery.ts; docs/benchmarks.md) 15 % let ~1,600 webhooks/s through and
 * doubled whoami's p99; at 5 % ~50–150 webhooks or ~150–250 bulk messages a second go through
 * (DSNs are also capped per window: smtp/inbound-thread-entry.ts); 2 % made no difference that the
 * runs' noise did not hide.
 */
export const BACKGROUND_SHARE = 0.05;

/** This thread's CPU time in µs; 0 where the runtime cannot tell (Node before 23.9): the CPU share is then not enforced. */
const threadCpuUs = () => {
  const u = process.threadCpuUsage?.();
  return u ? u.user + u.system : 0;
};

/**
 * µs this thread ran or waited to run (Linux: /proc/thread-self/schedstat — CPU time, then run-queue
 * wait, in ns): what it asked of the CPU. On a contended machine the API thread gets less CPU than it
 * wants, and its CPU time alone would then read as "not busy" just when it is most starved. Elsewhere
 * its CPU time.
 */
function threadDemandUs(): number {
  try {
    const [run, wait] = readFileSync("/proc/thread-self/schedstat", "latin1").split(" ");
    return (Number(run) + Number(wait)) / 1000;
  } catch {
    return threadCpuUs();
  }
}

const BACKGROUND_NICE = 10;

/**
 * Lowers the calling thread's priority (Linux: nice is per thread) for a thread of background work,
 * so on a busy machine the API thread gets the CPU first. Threads that are not permitted to keep
 * their priority.
 */
export function runAsBackgroundThread(): void {
  try {
    setPriority(0, BACKGROUND_NICE);
  } catch {
    // Not permitted or not supported here: the thread runs at normal priority.
  }
}

/** The main thread's demand for CPU, per mille of one core (the highest of its last HOLD_SAMPLES samples), readable from any thread. */
export class ApiLoad {
  private readonly cell: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.cell = new Int32Array(buffer);
  }

  get permille(): number {
    return Atomics.load(this.cell, 0);
  }

  get busy(): boolean {
    return this.permille >= BUSY_PERMILLE;
  }

  /** Called on the main thread: measures it every SAMPLE_MS until the returned stop is called. */
  startSampling(): () => void {
    let cpu = threadDemandUs();
    let at = performance.now();
    const recent: number[] = [];
    const timer = setInterval(() => {
      const [nowCpu, now] = [threadDemandUs(), performance.now()];
      recent.push(Math.round(((nowCpu - cpu) / ((now - at) * 1000)) * 1000));
      if (recent.length > HOLD_SAMPLES) recent.shift();
      Atomics.store(this.cell, 0, Math.max(...recent));
      [cpu, at] = [nowCpu, now];
    }, SAMPLE_MS);
    timer.unref?.();
    return () => {
      clearInterval(timer);
      Atomics.store(this.cell, 0, 0);
    };
  }
}

export interface PacerOptions {
  /** Share of one core this thread may use per window while the API is busy (0–1). */
  share: number;
  /** At most this many units per window while the API is busy (work too heavy for the share alone to hold it in). */
  maxPerWindow?: number;
  windowMs?: number;
}

/**
 * Paces the background loops of one thread: `yield()` returns at once while the API thread is not
 * busy. While it is, the loops queue and are let go one at a time — each after the one before it has
 * run its turn of the event loop, and only while this thread is within its share of the current
 * window; past it, the next goes when the window ends (so background work always moves). Let go all
 * at once, a dozen loops spent a window's budget in one burst, which is what the API's tail latency
 * feels. A thread's CPU time advances in scheduler ticks (~4 ms here), so the share holds on average
 * over windows, not within each.
 */
export class Pacer {
  private readonly windowMs: number;
  private readonly budgetUs: number;
  private readonly maxPerWindow: number;
  private windowStart = performance.now();
  private cpuAtStart = threadCpuUs();
  /** Units let go from the queue in the current window. */
  private released = 0;
  private readonly waiting: (() => void)[] = [];
  private releasing = false;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly load: ApiLoad,
    options: PacerOptions,
  ) {
    this.windowMs = options.windowMs ?? 100;
    this.budgetUs = options.share * this.windowMs * 1000;
    this.maxPerWindow = options.maxPerWindow ?? Infinity;
  }

  async yield(): Promise<void> {
    if (!this.load.busy && this.waiting.length === 0) return;
    await new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      this.releaseSoon();
    });
  }

  /** Within budget now (a new window starts when the last one is over). */
  private mayRun(): boolean {
    if (performance.now() - this.windowStart >= this.windowMs) this.newWindow();
    return !this.load.busy || (this.released < this.maxPerWindow && threadCpuUs() - this.cpuAtStart <= this.budgetUs);
  }

  private newWindow(): void {
    this.windowStart = performance.now();
    this.cpuAtStart = threadCpuUs();
    this.released = 0;
  }

  /** After the current turn (the loop let go last has run its part): the next one, if the budget allows. */
  private releaseSoon(): void {
    if (this.releasing || this.timer) return;
    this.releasing = true;
    setImmediate(() => {
      this.releasing = false;
      if (this.waiting.length === 0) return;
      if (this.mayRun()) this.releaseOne();
      else this.releaseAtWindowEnd();
    });
  }

  private releaseAtWindowEnd(): void {
    this.timer = setTimeout(
      () => {
        this.timer = null;
        // Timers may fire a little early: the window is over all the same.
        this.newWindow();
        this.releaseOne();
      },
      Math.max(0, this.windowStart + this.windowMs - performance.now()),
    );
  }

  private releaseOne(): void {
    const next = this.waiting.shift();
    if (next) this.released++;
    next?.();
    if (this.waiting.length) this.releaseSoon();
  }
}
