/**
 * Background work yields to the API. The main thread (which answers every HTTP request) measures
 * its own demand for CPU and publishes it in memory shared with the other threads; background
 * loops there (webhook attempts, inbound bounces) call `Pacer.yield()` between units of work and,
 * while the API thread is busy, keep to a small share of a core. On 2 cores a webhook flood or a DSN flood at full
 * speed otherwise doubled or tripled the API's p99 latency (docs/benchmarks.md). Work is slowed,
 * never dropped: each window lets at least one unit through.
 */
import { readFileSync } from "node:fs";

/** How often the main thread measures itself. */
const SAMPLE_MS = 100;
/** The API thread counts as busy from this share of one core (per mille). */
export const BUSY_PERMILLE = 700;
/**
 * Share of one core each paced thread keeps to while the API is busy. Measured on 2 cores (bench/
 * webhooks.ts, bench/inbound.ts): at 5 % whoami's p99 stayed within 1.1–1.4 × idle while ~130
 * webhooks or DSNs a second still went through; at 15 % ~1,600 webhooks/s went through and whoami's
 * p99 doubled.
 */
export const BACKGROUND_SHARE = 0.05;

const threadCpuUs = () => {
  const u = process.threadCpuUsage();
  return u.user + u.system;
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

/** The main thread's demand for CPU over its last sample, per mille of one core, readable from any thread. */
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
    const timer = setInterval(() => {
      const [nowCpu, now] = [threadDemandUs(), performance.now()];
      Atomics.store(this.cell, 0, Math.round(((nowCpu - cpu) / ((now - at) * 1000)) * 1000));
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
  windowMs?: number;
}

/**
 * Paces the background loops of one thread: `yield()` returns at once unless the API thread is busy
 * and this thread has used its share of the current window, then waits for the next window. All
 * loops of the thread share the budget.
 */
export class Pacer {
  private readonly windowMs: number;
  private readonly budgetUs: number;
  private windowStart = performance.now();
  private cpuAtStart = threadCpuUs();

  constructor(
    private readonly load: ApiLoad,
    options: PacerOptions,
  ) {
    this.windowMs = options.windowMs ?? 100;
    this.budgetUs = options.share * this.windowMs * 1000;
  }

  /** The API thread is busy now (yield() may wait). */
  get apiBusy(): boolean {
    return this.load.busy;
  }

  async yield(): Promise<void> {
    const now = performance.now();
    if (now - this.windowStart >= this.windowMs) return this.restart(now);
    if (!this.load.busy || threadCpuUs() - this.cpuAtStart <= this.budgetUs) return;
    await Bun.sleep(this.windowStart + this.windowMs - now);
    // The first loop to wake opens the next window; the others see it open.
    if (performance.now() - this.windowStart >= this.windowMs) this.restart(performance.now());
  }

  private restart(now: number): void {
    this.windowStart = now;
    this.cpuAtStart = threadCpuUs();
  }
}
