/**
 * Background work yields the CPU to the API: the delivery thread runs at nice 10 (on Linux nice is
 * per thread), while the thread that serves the API keeps its priority.
 */
import { afterEach, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { startTestServer, type TestServer } from "../harness";

let s: TestServer | undefined;
afterEach(async () => {
  await s?.stop();
  s = undefined;
});

/** The nice value of each thread of this process, by thread id (field 19 of its stat). */
function niceByThread(): Map<number, number> {
  const nice = new Map<number, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      nice.set(Number(tid), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return nice;
}

test.skipIf(!existsSync("/proc/self/task"))("the delivery thread runs at nice 10; the API's thread keeps its priority", async () => {
  const before = niceByThread();
  s = await startTestServer({ deliveryThread: true });
  const after = niceByThread();
  const started = [...after].filter(([tid]) => !before.has(tid));
  expect(started.some(([, nice]) => nice === 10)).toBe(true);
  expect(after.get(process.pid)).toBe(before.get(process.pid)!);
});
