/**
 * The `make_http_request` step (docs/api-reference.md §6; SSRF rules §11.2). The request never runs
 * inside the scheduler's transaction nor holds its tick: the step counts an attempt
 * (`request_attempts`) and holds the enrollment for IN_FLIGHT_MS, the scheduler starts the attempt
 * after its commit and records the answer in a transaction of its own. A 2xx moves the subscriber
 * on; a failure retries after RETRY_AFTER_MS (stored due times, so a restart retries too); after
 * the third failure `sequence.subscriber_error` is reported and the subscriber goes on all the same.
 */
import type { Enrollment } from "@/db/schema";
import { buildVariables, renderLiquid } from "@/lib/liquid";
import { checkedFetch, urlProblem, type AddressPolicy, type Lookup } from "@/lib/ssrf";
import type { Outcome } from "./actions";
import type { Batch, Here, PendingRequest } from "./batch";

export const REQUEST_ATTEMPTS = 3;
export const REQUEST_TIMEOUT_MS = 10_000;
/** How long an attempt holds its step: past the timeout, so an attempt lost with the process is made again. */
export const IN_FLIGHT_MS = 60_000;
/** Wait before the second and the third attempt. */
export const RETRY_AFTER_MS = [30_000, 120_000] as const;

/** The step's action: start an attempt after the commit (or give up when all were made). */
export function requestStep(batch: Batch, e: Enrollment, here: Here): Outcome {
  // All attempts made and the last one never answered (the process stopped): give up, go on.
  if (e.request_attempts >= REQUEST_ATTEMPTS) return { kind: "next", error: `make_http_request: no answer after ${REQUEST_ATTEMPTS} attempts` };
  e.request_attempts += 1;
  batch.requests.push({ enrollmentId: e.id, attempt: e.request_attempts, step: here.step, subscriber: here.subscriber, channel: here.channel });
  return { kind: "wait", until: batch.now + IN_FLIGHT_MS };
}

/** What to do once an attempt has answered (or failed). */
export function afterAttempt(req: PendingRequest, error: string | null, now: number): Outcome {
  if (error === null) return { kind: "next" };
  if (req.attempt < REQUEST_ATTEMPTS) return { kind: "wait", until: now + RETRY_AFTER_MS[req.attempt - 1]! };
  return { kind: "next", error: `make_http_request: ${error} (after ${REQUEST_ATTEMPTS} attempts)` };
}

/** One attempt: null on a 2xx answer, else why it failed (a 3xx is not followed and fails). */
export async function attemptRequest(req: PendingRequest, policy: AddressPolicy, lookup: Lookup): Promise<string | null> {
  const { step } = req;
  const problem = urlProblem(step.http_url ?? "", policy);
  if (problem) return `http_url ${problem}`;
  const method = step.http_method?.toUpperCase() === "GET" ? "GET" : "POST";
  let body: string | undefined;
  if (method === "POST") {
    try {
      body = await renderLiquid(step.http_body ?? "", buildVariables({ subscriber: req.subscriber, channel: req.channel }));
    } catch (err) {
      return `http_body: ${(err as Error).message}`;
    }
  }
  const headers: Record<string, string> = { "user-agent": "Mailroom-Sequences/1.0" };
  if (body !== undefined) headers["content-type"] = looksLikeJson(body) ? "application/json" : "text/plain; charset=utf-8";
  for (const [name, value] of Object.entries(step.http_headers ?? {})) headers[name.toLowerCase()] = String(value);
  const answer = await checkedFetch(new URL(step.http_url!), { method, headers, body }, policy, lookup, REQUEST_TIMEOUT_MS);
  if (!answer.response) return answer.error;
  // Only the status matters: the body is not read.
  await answer.response.body?.cancel().catch(() => {});
  return answer.response.ok ? null : `HTTP ${answer.response.status}`;
}

function looksLikeJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
