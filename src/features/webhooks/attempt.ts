/**
 * One attempt to deliver a webhook (API.md §11.1, §11.2): signed afresh with this attempt's
 * timestamp, sent to the address the SSRF guard checked, 3xx not followed, 10 s in all (5 s to
 * connect), the first 1 KiB of the answer kept. Never logs the secret or the signature.
 */
import { createHmac } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { resolveAllowed, type AddressPolicy, type Lookup } from "./address";

export const ATTEMPT_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 5_000;
const EXCERPT_BYTES = 1024;

export interface AttemptRequest {
  url: string;
  secret: string;
  /** The stored JSON body, sent byte for byte on every attempt. */
  body: string;
  eventId: number | null;
  eventType: string;
  deliveryId: number;
  /** 1-based. */
  attempt: number;
  /** Unix ms of this attempt (the injectable clock): the signed timestamp. */
  now: number;
}

export interface AttemptResult {
  ok: boolean;
  status: number | null;
  excerpt: string | null;
  durationMs: number;
  error: string | null;
}

/** `v1,<base64 HMAC-SHA256(secret, "<ts>.<body>")>` */
export const signature = (secret: string, ts: number, body: string) => `v1,${createHmac("sha256", secret).update(`${ts}.${body}`).digest("base64")}`;

export function webhookHeaders(r: AttemptRequest): Record<string, string> {
  const ts = Math.floor(r.now / 1000);
  const sig = signature(r.secret, ts, r.body);
  return {
    "content-type": "application/json",
    "user-agent": "Mailroom-Webhooks/1.0",
    "x-broadcast-signature": sig,
    "broadcast-webhook-signature": sig,
    "x-broadcast-timestamp": String(ts),
    "broadcast-webhook-timestamp": String(ts),
    "broadcast-webhook-id": String(r.eventId ?? `test-${r.deliveryId}`),
    "x-mailroom-event": r.eventType,
    "x-mailroom-delivery": String(r.deliveryId),
    "x-mailroom-attempt": String(r.attempt),
  };
}

/**
 * Kept-alive connections per checked address (and host name, for Host and SNI): a reused socket is
 * always one that was opened to an address the guard allowed. At most 4 sockets each, like the
 * deliveries in flight per endpoint.
 */
const agents = new Map<string, http.Agent>();
const MAX_AGENTS = 256;
function agentFor(url: URL, target: { address: string }): http.Agent {
  const key = `${url.protocol}|${target.address}|${url.host}`;
  let agent = agents.get(key);
  if (!agent) {
    if (agents.size >= MAX_AGENTS) {
      const [oldest, old] = agents.entries().next().value!;
      agents.delete(oldest);
      old.destroy();
    }
    const options = { keepAlive: true, maxSockets: 4, timeout: 30_000 };
    agents.set(key, (agent = url.protocol === "https:" ? new https.Agent(options) : new http.Agent(options)));
  }
  return agent;
}

export async function attemptWebhook(r: AttemptRequest, policy: AddressPolicy, lookup: Lookup): Promise<AttemptResult> {
  const started = performance.now();
  const done = (status: number | null, excerpt: string | null, error: string | null): AttemptResult => ({
    ok: status !== null && status >= 200 && status < 300,
    status,
    excerpt,
    durationMs: Math.round(performance.now() - started),
    error,
  });
  const url = new URL(r.url);
  let target: { address: string; family: number } | null;
  try {
    target = await resolveAllowed(url, policy, lookup);
  } catch {
    return done(null, null, "dns_failed");
  }
  if (!target) return done(null, null, "blocked_address");
  const body = Buffer.from(r.body);
  return new Promise<AttemptResult>((resolve) => {
    const options: https.RequestOptions = {
        host: url.hostname.replace(/^\[|\]$/g, ""),
        port: url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80,
        path: `${url.pathname}${url.search}`,
        method: "POST",
        headers: { ...webhookHeaders(r), "content-length": String(body.length) },
        // The socket connects to the checked address; Host and SNI stay the URL's name.
        lookup: ((_host: string, o: { all?: boolean }, cb: (...args: unknown[]) => void) => (o?.all ? cb(null, [target]) : cb(null, target!.address, target!.family))) as never,
        agent: agentFor(url, target),
    };
    const request = url.protocol === "https:" ? https.request : http.request;
    const req = request(options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const finish = () => {
          clearTimeout(timer);
          const status = res.statusCode ?? null;
          const excerpt = Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString("utf8");
          resolve(done(status, excerpt, status !== null && status >= 300 && status < 400 ? "redirect_not_followed" : null));
        };
        res.on("data", (chunk: Buffer) => {
          if (size < EXCERPT_BYTES) chunks.push(chunk);
          size += chunk.length;
          // Enough kept: the rest of a large answer is not read.
          if (size >= EXCERPT_BYTES) res.destroy();
        });
        res.on("end", finish);
        res.on("close", finish);
        res.on("error", finish);
      },
    );
    const timer = setTimeout(() => fail("timeout"), ATTEMPT_TIMEOUT_MS);
    const connectTimer = setTimeout(() => fail("connect_timeout"), CONNECT_TIMEOUT_MS);
    req.on("socket", (socket) => {
      // A kept-alive socket is connected already.
      if (!socket.connecting) clearTimeout(connectTimer);
      else socket.once(url.protocol === "https:" ? "secureConnect" : "connect", () => clearTimeout(connectTimer));
    });
    req.on("response", () => clearTimeout(connectTimer));
    let settled = false;
    function fail(error: string) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(connectTimer);
      req.destroy();
      resolve(done(null, null, error));
    }
    req.on("error", (e: NodeJS.ErrnoException) => fail(`connection_failed${e.code ? `: ${e.code}` : ""}`));
    req.end(body);
  });
}
