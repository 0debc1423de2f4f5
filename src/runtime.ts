/**
 * Starts and stops the running parts of an instance — HTTP, and the background ticker (usage
 * flush, limiter pruning) — in the shutdown order of STYLE §7. Used by `serve` and by the test
 * harness, so tests run exactly what production runs.
 */
import { createApp } from "./app";
import type { Deps } from "./deps";
import { listenHttp, type HttpServer } from "./http/server";

export interface Running {
  http: HttpServer;
  /** Graceful: stop accepting, finish in-flight work, flush usage, close the DB. */
  stop(): Promise<void>;
}

/** A part that runs in the background and stops in reverse start order. */
export interface Component {
  name: string;
  stop(): Promise<void> | void;
}

export interface StartOptions {
  port?: number;
  hostname?: string;
}

export async function startMailroom(deps: Deps, options: StartOptions = {}): Promise<Running> {
  const app = createApp(deps);
  const http = listenHttp(app, deps, options);
  const ticker = setInterval(() => deps.auth.tick(), 1000);
  const components: Component[] = [];
  let stopped: Promise<void> | null = null;
  return {
    http,
    stop() {
      stopped ??= (async () => {
        await http.stop(deps.config.shutdownTimeoutMs);
        for (const c of components.reverse()) await c.stop();
        clearInterval(ticker);
        deps.auth.usage.flush();
        deps.log.info("server.stopped", {});
        deps.log.flush();
        deps.database.close();
      })();
      return stopped;
    },
  };
}
