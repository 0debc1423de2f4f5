/**
 * Transactionals (docs/api-reference.md §4): the send path (validation, template, suppression, quota, outbox
 * insert and the Idempotency-Key result in one transaction) and the read routes.
 */
import { and, count, desc, eq, inArray, sql, type SQL } from "drizzle-orm";
import type { Scope } from "@/auth/scope";
import { messages, templates, type Channel, type Message } from "@/db/schema";
import type { Deps } from "@/deps";
import { chargeQuota, type QuotaState } from "@/features/channels/quota";
import { confirmationContent, enqueueConfirmation } from "@/features/subscribers/double-opt-in";
import { isSuppressed } from "@/features/subscribers/eligibility";
import type { DoubleOptIn } from "@/features/subscribers/fields";
import { confirmationStatus } from "@/features/subscribers/model";
import { upsertSubscriber } from "@/features/subscribers/service";
import { subscriberIdByEmail } from "@/features/subscribers/store";
import { notFound, unprocessable, validationError, type FieldErrors } from "@/lib/errors";
import { withWarnings, type FieldValues, type Warning } from "@/input/fields";
import { checkLiquid } from "@/lib/liquid";
import { storeIdempotentResult, type IdempotencyClaim } from "./idempotency";
import { encodeTransactional, type TransactionalFields, type TransactionalFilterFields } from "./model";

export type TransactionalValues = FieldValues<typeof TransactionalFields>;

const RESOURCE = "Transactional";

export interface SendResult {
  body: ReturnType<typeof encodeTransactional> & { confirmation_status?: string; confirmation_url?: string };
  quota: QuotaState;
}

/**
 * Sends one transactional from `channel` with the route's validated values: resolves the template, then
 * in one transaction (shared with concurrent sends: group commit) refuses suppressed recipients
 * (nothing charged or written), charges the quota, links (or, with `subscriber` or `double_opt_in`, upserts) the
 * subscriber, inserts the outbox row and stores the idempotent result. With `doi` and a recipient who
 * has not confirmed, the message is held (`pending_confirmation`, not claimable) behind a
 * confirmation email (two quota units) until the recipient confirms (§10.2). Resolves only after
 * the commit; delivery is woken when the message (or its confirmation) can go now.
 * @throws 422 validation / no sender_email / unknown template / suppressed, 402 quota.
 */
export async function sendTransactional(
  deps: Deps,
  channel: Channel,
  values: TransactionalValues,
  doi: DoubleOptIn | null,
  warnings: readonly Warning[],
  claim: IdempotencyClaim | null,
): Promise<SendResult> {
  if (!channel.sender_email) {
    throw unprocessable(`Channel ${channel.slug} has no sender_email; set one before sending`, { errors: { channel: ["has no sender_email"] } });
  }
  const to = values.to;
  const content = resolveContent(deps, channel, values);
  const confirmation = doi ? confirmationContent(deps, channel, doi.templateId) : null;

  const now = deps.clock.now();
  const publicUrl = deps.config.publicUrl;
  const result = await deps.commits.run((tx) => {
    // Checked first, so nothing is charged or written; inside the group's transaction, a lookup
    // does not open a read transaction of its own (~5 µs).
    const hit = isSuppressed(tx, channel.id, to.email);
    if (hit) throw validationError({ to: [`is suppressed (${hit.reason})`] });
    const profile = values.subscriber;
    const subscriber = profile || doi
      ? upsertSubscriber(deps, channel, { email: to.email.toLowerCase(), ...profile, source: "transactional", ...(doi ? { confirmation_sent_at: now } : {}) }, tx).subscriber
      : null;
    const held = doi !== null && subscriber !== null && confirmationStatus(subscriber) === "pending";
    const quota = chargeQuota(tx, channel, held ? 2 : 1, now);
    const [row] = deps.outbox.enqueue([{
      channel_id: channel.id,
      kind: "transactional",
      source: "api",
      status: held ? "pending_confirmation" : "queued",
      recipient_email: to.email,
      recipient_name: to.name,
      subscriber_id: subscriber ? subscriber.id : subscriberIdByEmail(tx, channel.id, to.email),
      subject: content.subject,
      body: content.body,
      preheader: content.preheader,
      reply_to: values.reply_to ?? null,
      template_id: content.templateId,
      data: values.data ?? null,
      include_unsubscribe_link: values.include_unsubscribe_link ?? false,
      track_opens: values.track_opens ?? false,
      track_clicks: values.track_clicks ?? false,
    }], now);
    // The confirmation email is the one that goes out now; the held message follows the confirmation.
    const url = held ? enqueueConfirmation(deps, tx, channel, subscriber, doi, confirmation!, row!.id, now) : null;
    const doiFields = subscriber && doi ? { confirmation_status: confirmationStatus(subscriber), ...(url ? { confirmation_url: url } : {}) } : {};
    const body = withWarnings({ ...encodeTransactional(row!, channel.slug, publicUrl), ...doiFields }, warnings);
    if (claim) storeIdempotentResult(tx, claim, 201, body, now);
    // Mail that waits (for a route, or held behind its confirmation) gives the delivery job nothing new.
    const due = url !== null || deps.outbox.dueNow(row!, now);
    return { body, quota, due };
  });
  const { due, ...sent } = result;
  if (due) deps.outbox.notify();
  return sent;
}

/** Subject, body, preheader: explicit fields over the template's; both subject and body required. */
function resolveContent(deps: Deps, channel: Channel, values: TransactionalValues) {
  let subject = values.subject ?? null;
  let body = values.body ?? null;
  let preheader = values.preheader ?? null;
  const templateId = values.template_id ?? null;
  if (templateId !== null) {
    const t = deps.db
      .select()
      .from(templates)
      .where(and(eq(templates.id, templateId), eq(templates.channel_id, channel.id)))
      .get();
    if (!t) throw validationError({ template_id: ["does not exist in this channel"] });
    subject = subject || t.subject;
    body = body || t.body;
    preheader = preheader ?? t.preheader;
  }
  const errors: FieldErrors = {};
  if (!subject?.trim()) errors.subject = ["can't be blank"];
  if (!body?.trim()) errors.body = ["can't be blank"];
  for (const [field, source] of [["subject", subject], ["body", body], ["preheader", preheader]] as const) {
    const problem = !errors[field] && checkLiquid(source);
    if (problem) errors[field] = [problem];
  }
  if (Object.keys(errors).length) throw validationError(errors);
  return { subject: subject!, body: body!, preheader, templateId };
}

/** A transactional of T. @throws 404 "Transactional not found". */
export function getTransactional(deps: Deps, scope: Scope, id: number): Message {
  const row = deps.db
    .select()
    .from(messages)
    .where(and(eq(messages.id, id), eq(messages.kind, "transactional")))
    .get();
  if (!row || !scope.has(row.channel_id)) throw notFound(RESOURCE);
  return row;
}

/** Transactionals of T, newest first, filtered by `status`, `recipient_email` (case-insensitive) and `source`. */
export function listTransactionals(deps: Deps, scope: Scope, filters: FieldValues<typeof TransactionalFilterFields, true>, limit: number, offset: number) {
  const where: SQL[] = [inArray(messages.channel_id, [...scope.channelIds]), eq(messages.kind, "transactional")];
  if (filters.status !== undefined) where.push(eq(messages.status, filters.status));
  if (filters.source !== undefined) where.push(eq(messages.source, filters.source));
  if (filters.recipient_email !== undefined) where.push(sql`lower(${messages.recipient_email}) = ${filters.recipient_email.toLowerCase()}`);
  const cond = and(...where);
  const rows = deps.db.select().from(messages).where(cond).orderBy(desc(messages.id)).limit(limit).offset(offset).all();
  const total = deps.db.select({ n: count() }).from(messages).where(cond).get()!.n;
  return { rows, total };
}
