/**
 * The composition root of a running instance: HTTP, the SMTP listeners, the job runner with every
 * feature's jobs, and the delivery job (its sender in the delivery thread in production, in this
 * thread when tests step it); the webhook jobs run whole in the delivery thread when the jobs are
 * started, else here. Starts in dependency order and stops in reverse (STYLE §7). Used by `serve`
 * and by the test harness, so tests run exactly what production runs.
 */
import { createApp } from "./app";
import { sessionRetentionJob } from "./admin/session";
import type { Deps } from "./deps";
import { auditRetentionJob } from "./features/audit_log/service";
import { broadcastsJob } from "./features/broadcasts/jobs";
import { SequenceScheduler } from "./features/sequences/scheduler";
import { confirmationExpiryJob } from "./features/confirmation/jobs";
import { segmentSyncJob } from "./features/sequences/segment-sync";
import { eventRetentionJob } from "./features/events/service";
import { inboundRetentionJob } from "./features/bounces/inbound";
import { webhookJobs } from "./features/webhooks/delivery";
import { deliveryRetentionJob } from "./features/webhooks/service";
import { idempotencyRetentionJob } from "./features/transactionals/idempotency";
import { seenEventsRetentionJob } from "./features/provider_hooks/service";
import { listenHttp, type HttpServer } from "./http/server";
import { ApiLoad } from "./jobs/api-load";
import { JobRunner } from "./jobs/runner";
import { DeliveryJob } from "./outbox/delivery-job";
import { RouteCheck } from "./outbox/destinations";
import { QUOTA_RELEASE_JOB, quotaReleaseJob } from "./outbox/quota-release";
import { startDeliveryThread } from "./outbox/delivery-thread";
import { startInboundThread } from "./smtp/inbound-thread";
import { startCaptureServer, startSubmissionServer, type SmtpComponent } from "./smtp/start";

export interface Running {
  http: HttpServer;
  /** Bound ports of the SMTP submission listener and the capture server (null = not running). */
  smtpPort: number | null;
  capturePort: number | null;
  /** Bound port of the inbound bounce listener (null = MAILROOM_INBOUND_PORT unset). */
  inboundPort: number | null;
  /** The main thread's jobs (tests step them with `get(name).tick(now)` instead of starting them). */
  jobs: JobRunner;
  /** The delivery job (tests step it with `tick(now)`); its sender runs in the delivery thread unless `deliveryThread: false`. */
  delivery: DeliveryJob;
  /** Graceful: stop accepting, finish in-flight work, flush usage, close the DB. */
  stop(): Promise<void>;
}

export interface StartOptions {
  port?: number;
  hostname?: string;
  /** SMTP submission port overriding MAILROOM_SMTP_PORT, where 0 means "off"; here 0 = ephemeral (tests). */
  smtpPort?: number;
  /**
   * Deliver in a Worker thread (default where the runtime has Workers), with the webhook jobs there
   * too when the jobs are started; false: all in this thread.
   */
  deliveryThread?: boolean;
  /** Start the job loops (default true); tests that step jobs by hand pass false. */
  startJobs?: boolean;
}

/**
 * Wake-ups after commits are gathered for a moment, so a burst of accepted mail is claimed in one
 * batch (one claim, one outcome transaction) instead of one message at a time.
 */
const WAKE_GATHER_MS = 10;
function coalescedWake(wake: () => void): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return () => {
    timer ??= setTimeout(() => {
      timer = null;
      wake();
    }, WAKE_GATHER_MS);
  };
}

/** Jobs of the features, run on the main thread's connection (the webhook jobs unless the delivery thread runs them). */
function featureJobs(deps: Deps, jobs: JobRunner, webhooksInThread: boolean) {
  return [
    auditRetentionJob(deps.db),
    eventRetentionJob(deps.db, deps.config.eventRetentionDays),
    sessionRetentionJob(deps.db),
    idempotencyRetentionJob(deps.db),
    seenEventsRetentionJob(deps.db),
    broadcastsJob(deps),
    confirmationExpiryJob(deps),
    quotaReleaseJob(deps),
    new SequenceScheduler(deps),
    segmentSyncJob(deps),
    ...(webhooksInThread ? [] : webhookJobs(deps, (name) => jobs.wake(name))),
    deliveryRetentionJob(deps.db, deps.config.eventRetentionDays),
    inboundRetentionJob(deps.db, deps.config.eventRetentionDays),
  ];
}

export async function startMailroom(deps: Deps, options: StartOptions = {}): Promise<Running> {
  const app = createApp(deps);
  const http = listenHttp(app, deps, options);
  const ticker = setInterval(() => deps.auth.tick(), 1000);
  const jobs = new JobRunner(deps.log, deps.clock, deps.metrics.jobs);
  const deliveryThread = options.deliveryThread ?? typeof Worker !== "undefined";
  const startJobs = options.startJobs ?? true;
  // This thread answers the API: background work paces itself by its load. Not measured when tests
  // step the jobs by hand (their own work runs on this thread; "busy" would make runs differ).
  const apiLoad = new ApiLoad();
  const stopSampling = startJobs ? apiLoad.startSampling() : () => {};
  const webhooksInThread = deliveryThread && startJobs;
  for (const job of featureJobs(deps, jobs, webhooksInThread)) jobs.add(job);
  const stops: (() => Promise<void> | void)[] = [];
  let stopped: Promise<void> | null = null;
  const smtpPort = options.smtpPort ?? (deps.config.smtpPort || null);
  let capture: SmtpComponent | null = null;
  let smtp: SmtpComponent | null = null;
  let inbound: SmtpComponent | null = null;
  let delivery: DeliveryJob;
  try {
    // Capture starts first (delivery sends into it) and so stops last.
    capture = deps.config.capture ? await startCaptureServer(deps) : null;
    if (capture) stops.push(() => capture!.stop());
    smtp = smtpPort === null ? null : await startSubmissionServer(deps, smtpPort);
    if (smtp) stops.push(() => smtp!.stop());
    inbound = deps.config.inboundPort === undefined ? null : await startInboundThread(deps, { port: deps.config.inboundPort, apiLoad, recordOnMainThread: !startJobs });
    if (inbound) stops.push(() => inbound!.stop());
    // Delivery stops before the listeners (reverse order): it drains into capture/servers before they close.
    const sender = deliveryThread
      ? await startDeliveryThread(deps.config, { capturePort: deps.capturePort, log: deps.log, jobs: webhooksInThread, apiLoad, observer: deps.metrics.jobs, timeoutMs: deps.config.shutdownTimeoutMs })
      : undefined;
    delivery = new DeliveryJob(deps, { sender, apiBusy: () => apiLoad.busy });
    delivery.releaseLeases();
    jobs.add(delivery);
    deps.outbox.notify = coalescedWake(() => jobs.wake("delivery"));
    deps.outbox.quotaFreed = () => jobs.wake(QUOTA_RELEASE_JOB);
    deps.outbox.routes = new RouteCheck(deps.db, deps.config, () => deps.capturePort);
    // Mail that waited for capture (it was down when the process stopped) can go now.
    if (capture) deps.outbox.routesChanged(null, deps.clock.now());
    if (startJobs) jobs.start();
    stops.push(() => jobs.stop(deps.config.shutdownTimeoutMs));
  } catch (err) {
    await http.stop(0);
    for (const stop of stops.reverse()) await stop();
    clearInterval(ticker);
    stopSampling();
    throw err;
  }
  return {
    http,
    smtpPort: smtp?.port ?? null,
    capturePort: capture?.port ?? null,
    inboundPort: inbound?.port ?? null,
    jobs,
    delivery: delivery!,
    stop() {
      stopped ??= (async () => {
        await http.stop(deps.config.shutdownTimeoutMs);
        for (const stop of stops.reverse()) await stop();
        clearInterval(ticker);
        stopSampling();
        deps.auth.usage.flush();
        deps.log.info("server.stopped", {});
        deps.log.flush();
        deps.database.close();
      })();
      return stopped;
    },
  };
}
