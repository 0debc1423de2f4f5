/**
 * Entry of the delivery thread (delivery-thread.ts): opens its own connection to the data dir's
 * database, runs the delivery job in its own job runner, and sends its log lines to the main thread
 * (one writer for stdout).
 */
import { buildDeps, databasePath } from "@/boot";
import { openDb } from "@/db/client";
import { JobRunner } from "@/jobs/runner";
import { createLogger } from "@/lib/log";
import { systemClock } from "@/lib/time";
import { DeliveryJob } from "./delivery-job";
import type { FromThread, ToThread } from "./delivery-thread";

declare const self: Worker;
const send = (m: FromThread) => self.postMessage(m);

let runner: JobRunner | null = null;
let close = () => {};

self.onmessage = async (e: MessageEvent<ToThread>) => {
  const m = e.data;
  try {
    switch (m.type) {
      case "start": {
        const log = createLogger((chunk) => send({ type: "log", chunk }));
        const database = openDb(databasePath(m.config));
        const deps = buildDeps(m.config, database, log, systemClock);
        deps.capturePort = m.capturePort;
        const job = new DeliveryJob(deps);
        job.releaseLeases();
        runner = new JobRunner(log, systemClock).add(job);
        runner.start();
        close = () => {
          log.flush();
          database.close();
        };
        send({ type: "started" });
        break;
      }
      case "wake":
        runner?.wake("delivery");
        break;
      case "stop":
        await runner?.stop(m.timeoutMs);
        close();
        send({ type: "stopped" });
        break;
    }
  } catch (err) {
    send({ type: "failed", error: (err as Error).message });
  }
};

send({ type: "ready" });
