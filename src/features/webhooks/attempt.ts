/**
 * One attempt to deliver a webhook (docs/api-reference.md §11.1, §11.2): signed afresh with this attempt's
 * timestamp, sent to the address the SSRF guard checked, 3xx not followed, 10 s in all, the first
 * 1 KiB of the answer kept. Never logs the secret or the signature.
 */
import { createHmac } from "node:crypto";
import { resolveAllowed, type AddressPolicy, type Lookup } from "@/lib/ssrf";

export const ATTEMPT_TIMEOUT_MS = 10_000;
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

/** Reads at most EXCERPT_BYTES of the answer, then stops reading (the rest is never downloaded). */
async function excerptOf(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < EXCERPT_BYTES) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  if (size >= EXCERPT_BYTES) await reader.cancel().catch(() => {});
  return Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString("utf8");
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
  // The request goes to the checked address itself; the Host header and TLS (SNI and the name the
  // certificate is verified against) keep the URL's name. Kept-alive connections are pooled by
  // that address, so a reused one was opened to an allowed address too.
  const connectTo = new URL(url);
  connectTo.hostname = target.family === 6 ? `[${target.address}]` : target.address;
  try {
    const res = await fetch(connectTo, {
      method: "POST",
      headers: { ...webhookHeaders(r), host: url.host },
      body: r.body,
      redirect: "manual",
      signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      tls: { serverName: url.hostname },
    });
    const excerpt = await excerptOf(res);
    return done(res.status, excerpt, res.status >= 300 && res.status < 400 ? "redirect_not_followed" : null);
  } catch (e) {
    const err = e as { name?: string; code?: string };
    if (err.name === "TimeoutError" || err.name === "AbortError") return done(null, null, "timeout");
    return done(null, null, `connection_failed${err.code ? `: ${err.code}` : ""}`);
  }
}
