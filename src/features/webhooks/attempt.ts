/**
 * One attempt to deliver a webhook (docs/api-reference.md §11.1, §11.2): signed afresh with this attempt's
 * timestamp, sent to the address the SSRF guard checked, 3xx not followed, 10 s in all, the first
 * 1 KiB of the answer kept. Never logs the secret or the signature.
 */
import { createHmac } from "node:crypto";
import { checkedFetch, type AddressPolicy, type Lookup } from "@/lib/ssrf";

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
  const answer = await checkedFetch(new URL(r.url), { method: "POST", headers: webhookHeaders(r), body: r.body }, policy, lookup, ATTEMPT_TIMEOUT_MS);
  if (!answer.response) return done(null, null, answer.error);
  const { status } = answer.response;
  try {
    const excerpt = await excerptOf(answer.response);
    return done(status, excerpt, status >= 300 && status < 400 ? "redirect_not_followed" : null);
  } catch (e) {
    // The answer broke off (or the 10 s ran out) while its body was read.
    const name = (e as { name?: string }).name;
    return done(null, null, name === "TimeoutError" || name === "AbortError" ? "timeout" : "connection_failed");
  }
}
