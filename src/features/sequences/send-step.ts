/**
 * The `send_email` step (docs/api-reference.md §6): one outbox row of kind `sequence` (bulk lane,
 * List-Unsubscribe) to the subscriber, with the step's subject, preheader and body — or its
 * template's where the step leaves them empty — copied onto the row, so mail already queued keeps
 * the content (and tracked links) it was queued with when the step is edited. Skipped when the
 * subscriber is no longer eligible (§3). A channel whose monthly quota is used up (§1.8) keeps the
 * subscriber waiting on the step, rechecked every QUOTA_RECHECK_MS and at the start of the month.
 */
import { eq } from "drizzle-orm";
import { templates, type Enrollment, type Template } from "@/db/schema";
import { isEligible } from "@/features/subscribers/eligibility";
import { utcMonthBounds } from "@/lib/time";
import type { Outcome } from "./actions";
import type { Batch, Here } from "./batch";

/** How often a step held by a full quota looks again (a raised cap frees it before the month ends). */
export const QUOTA_RECHECK_MS = 15 * 60_000;

interface Content {
  subject: string;
  body: string;
  preheader: string | null;
  html: boolean;
  templateId: number | null;
}

// Templates read once per batch (a batch may send one step to many subscribers).
const templatesOf = new WeakMap<Batch, Map<number, Template | undefined>>();

/** The step's content over its template's; null when there is nothing to send. */
function contentOf(batch: Batch, here: Here): Content | null {
  const { step } = here;
  let template: Template | undefined;
  if (step.template_id !== null) {
    let cache = templatesOf.get(batch);
    if (!cache) templatesOf.set(batch, (cache = new Map()));
    if (!cache.has(step.template_id)) cache.set(step.template_id, batch.tx.select().from(templates).where(eq(templates.id, step.template_id)).get());
    template = cache.get(step.template_id);
    if (template?.channel_id !== here.channel.id) template = undefined;
  }
  const subject = step.subject || template?.subject;
  const body = step.body || template?.body;
  if (!subject || !body) return null;
  const html = (step.body ? step.html_body : template?.html_body) ?? true;
  return { subject, body, preheader: step.preheader ?? template?.preheader ?? null, html, templateId: template?.id ?? null };
}

export function sendEmail(batch: Batch, e: Enrollment, here: Here): Outcome {
  const { sequence, subscriber, channel, step } = here;
  if (!isEligible(batch.tx, subscriber)) return { kind: "next" };
  if (!channel.sender_email) return { kind: "next", error: `send_email: channel ${channel.slug} has no sender_email` };
  const content = contentOf(batch, here);
  if (!content) return { kind: "next", error: `send_email: step ${step.id} has no subject and body (template ${step.template_id ?? "none"})` };
  if (!batch.takeQuota(channel)) return { kind: "wait", until: Math.min(batch.now + QUOTA_RECHECK_MS, utcMonthBounds(batch.now).end) };
  const name = [subscriber.first_name, subscriber.last_name].filter(Boolean).join(" ");
  batch.mail.push({
    enrollment: e,
    row: {
      channel_id: channel.id,
      kind: "sequence",
      source: "sequence",
      status: "queued",
      recipient_email: subscriber.email,
      recipient_name: name || null,
      subscriber_id: subscriber.id,
      subject: content.subject,
      body: content.body,
      preheader: content.preheader,
      html_body: content.html,
      template_id: content.templateId,
      include_unsubscribe_link: true,
      track_opens: sequence.track_opens,
      track_clicks: sequence.track_clicks,
      server_ids: !sequence.use_any_email_server && sequence.email_server_ids.length ? sequence.email_server_ids : null,
      sequence_id: sequence.id,
      sequence_step_id: step.id,
    },
  });
  return { kind: "next" };
}
