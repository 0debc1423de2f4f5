/**
 * Background work yields to the API: the main thread's measured CPU use is published to other
 * threads, and a paced loop keeps to its share of a core while that load is high — and runs
 * unhindered while it is not. Real threads and real CPU time (no fake clock: the pacer measures
 * CPU), with wide margins.
 */
import { expect, test } from "bun:test";
import { ApiLoad, BUSY_PERMILLE, Pacer } from "@/jobs/api-load";

const cpuMs = () => {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
};
const burn = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

/** Runs units of ~1 ms of CPU, each after `pacer.yield()`, for `wallMs`; returns this thread's CPU share of the wall time. */
async function pacedShare(pacer: Pacer, wallMs: number): Promise<number> {
  const [cpu0, t0] = [cpuMs(), performance.now()];
  while (performance.now() - t0 < wallMs) {
    await pacer.yield();
    burn(1);
  }
  return (cpuMs() - cpu0) / (performance.now() - t0);
}

test("the main thread's load is measured and readable through the shared buffer (as another thread reads it)", async () => {
  const load = new ApiLoad();
  const seenElsewhere = new ApiLoad(load.buffer);
  const stop = load.startSampling();
  try {
    // Busy as under request load: short runs of work with the event loop turning in between.
    const end = performance.now() + 400;
    while (performance.now() < end) {
      burn(20);
      await Bun.sleep(0);
    }
    expect(seenElsewhere.permille).toBeGreaterThanOrEqual(BUSY_PERMILLE);
    expect(seenElsewhere.busy).toBe(true);
    // "Busy" is held for five samples (half a second) after the work stops: one quiet sample does not end it.
    await Bun.sleep(250);
    expect(seenElsewhere.busy).toBe(true);
    await Bun.sleep(450);
    expect(seenElsewhere.permille).toBeLessThan(300);
    expect(seenElsewhere.busy).toBe(false);
  } finally {
    stop();
  }
});

test("while the API is busy a paced loop keeps near its share; otherwise it runs at full speed", async () => {
  const load = new ApiLoad();
  const cell = new Int32Array(load.buffer);
  const pacer = new Pacer(load, { share: 0.1, windowMs: 50 });
  Atomics.store(cell, 0, 1000); // the API thread at a full core
  const busyShare = await pacedShare(pacer, 600);
  Atomics.store(cell, 0, 100);
  const idleShare = await pacedShare(pacer, 300);
  // The share, plus the one unit each window lets through.
  expect(busyShare).toBeLessThan(0.3);
  expect(busyShare).toBeGreaterThan(0.02);
  expect(idleShare).toBeGreaterThan(0.7);
});

test("many loops waiting on one pacer are let go one at a time within the share, not all at once per window", async () => {
  const load = new ApiLoad();
  Atomics.store(new Int32Array(load.buffer), 0, 1000);
  const pacer = new Pacer(load, { share: 0.05, windowMs: 100 });
  const [cpu0, t0] = [cpuMs(), performance.now()];
  let units = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (performance.now() - t0 < 1000) {
        await pacer.yield();
        burn(2);
        units++;
      }
    }),
  );
  const share = (cpuMs() - cpu0) / (performance.now() - t0);
  // 8 loops × 2 ms woken together each window would be ≥ 16 % of a core.
  expect(share).toBeLessThan(0.12);
  // Still moving: at least one unit per window.
  expect(units).toBeGreaterThanOrEqual(9);
});

test("maxPerWindow caps the units let go per window while the API is busy, however cheap they are", async () => {
  const load = new ApiLoad();
  Atomics.store(new Int32Array(load.buffer), 0, 1000);
  const pacer = new Pacer(load, { share: 1, maxPerWindow: 2, windowMs: 100 });
  const t0 = performance.now();
  let units = 0;
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (performance.now() - t0 < 500) {
        await pacer.yield();
        units++;
      }
    }),
  );
  // Loops still queued at 500 ms go on being let go 2 per window until each has had its turn.
  const windows = Math.ceil((performance.now() - t0) / 100);
  expect(units).toBeLessThanOrEqual(2 * windows + 2);
  expect(units).toBeGreaterThanOrEqual(windows);
});
