/**
 * Background job metrics, fed by the job runner: how stale each job is (seconds since its last
 * successful tick, or since it was registered), its interval (alert on lag > 2 × interval), how long
 * ticks take and how many failed.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Clock } from "@/lib/time";

/** Tick durations from a quick retention sweep to a delivery batch waiting on slow servers. */
const TICK_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120];

export class JobMetrics {
  /** Job name → clock time (ms) of its last successful tick, or of its registration. */
  private readonly lastSuccess = new Map<string, number>();
  private readonly interval;
  private readonly duration;
  private readonly failures;

  constructor(registry: Registry, clock: Clock) {
    const registers = [registry];
    const lastSuccess = this.lastSuccess;
    new Gauge({
      name: "mailroom_job_lag_seconds",
      help: "Seconds since the job's last successful tick (since start-up when it has not had one).",
      labelNames: ["job"] as const,
      registers,
      collect() {
        const now = clock.now();
        for (const [job, at] of lastSuccess) this.set({ job }, Math.max(0, now - at) / 1000);
      },
    });
    this.interval = new Gauge({ name: "mailroom_job_interval_seconds", help: "Longest wait between two ticks of the job when nothing wakes it.", labelNames: ["job"] as const, registers });
    this.duration = new Histogram({ name: "mailroom_job_tick_duration_seconds", help: "Duration of job ticks, failed ones included.", labelNames: ["job"] as const, buckets: TICK_BUCKETS, registers });
    this.failures = new Counter({ name: "mailroom_job_failures_total", help: "Job ticks that threw.", labelNames: ["job"] as const, registers });
  }

  /** A job joined the runner at `now`: its series exist from then on. */
  registered(job: string, intervalMs: number, now: number): void {
    this.lastSuccess.set(job, now);
    this.interval.set({ job }, intervalMs / 1000);
    this.duration.zero({ job });
    this.failures.inc({ job }, 0);
  }

  /** One tick ended at `now` after `seconds`; `ok` = it did not throw. */
  ticked(job: string, seconds: number, ok: boolean, now: number): void {
    this.duration.observe({ job }, seconds);
    if (ok) this.lastSuccess.set(job, now);
    else this.failures.inc({ job });
  }
}
