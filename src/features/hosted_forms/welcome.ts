/**
 * A form's welcome email (§10.1 automation): the form's welcome template, sent as system mail
 * (priority lane, one quota unit, with List-Unsubscribe; `deferred` while the monthly quota is used
 * up) when a sign-up subscribes — at once without double opt-in, on confirmation with it (the
 * form's sequences likewise). The confirmation email records which form asked
 * (`data.form_id`), so the confirmation page can find it.
 */
import { and, desc, eq, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { messages, subscribers, templates, type Channel, type OptInForm, type Subscriber } from "@/db/schema";
import type { Deps } from "@/deps";
import { formById } from "@/features/opt_in_forms/service";
import { systemMailStatus, systemMailTo } from "@/features/subscribers/double-opt-in";

const wantsWelcome = (form: OptInForm) => (form.automation_settings as { send_welcome_email?: boolean }).send_welcome_email === true && form.welcome_email_template_id !== null;

/**
 * Queues the welcome email of `form` to `s` inside `tx` (deferred on a full quota). True when mail
 * is due now (the caller wakes the outbox after the commit); false when deferred or the form sends none.
 */
export function enqueueWelcome(deps: Deps, tx: Db, channel: Channel, form: OptInForm, s: Subscriber, now: number): boolean {
  if (!wantsWelcome(form)) return false;
  const t = tx.select().from(templates).where(and(eq(templates.id, form.welcome_email_template_id!), eq(templates.channel_id, channel.id))).get();
  if (!t?.body?.trim()) return false;
  const status = systemMailStatus(tx, channel, now);
  deps.outbox.enqueue([{
    ...systemMailTo(channel, s, "welcome", status),
    subject: t.subject?.trim() ? t.subject : `Welcome to ${channel.name}`,
    body: t.body,
    preheader: t.preheader,
    template_id: t.id,
    include_unsubscribe_link: true,
  }], now);
  return status === "queued";
}

/** The form whose confirmation email `s` got last, if a form asked (`messages_system_idx`). */
function confirmingForm(deps: Deps, s: Subscriber): OptInForm | null {
  const row = deps.db
    .select({ form: sql<number | null>`json_extract(${messages.data}, '$.form_id')` })
    .from(messages)
    .where(and(eq(messages.subscriber_id, s.id), sql`${messages.kind} = 'system'`, eq(messages.source, "confirmation")))
    .orderBy(desc(messages.id))
    .limit(1)
    .get();
  return (row?.form && formById(deps, row.form)) || null;
}

/**
 * After `s` confirmed, the automation of the form that asked, if any: enrollment in its
 * `sequence_ids` and its welcome email.
 */
export function automationAfterConfirmation(deps: Deps, channel: Channel, s: Subscriber): void {
  const form = confirmingForm(deps, s);
  if (!form) return;
  const { sequence_ids } = form.automation_settings as { sequence_ids?: number[] };
  if (sequence_ids?.length) {
    const confirmed = deps.db.select().from(subscribers).where(eq(subscribers.id, s.id)).get()!;
    deps.db.transaction((tx) => deps.subscriberHooks.enroll(deps, tx as unknown as Db, channel, confirmed, sequence_ids));
  }
  if (wantsWelcome(form) && deps.db.transaction((tx) => enqueueWelcome(deps, tx as unknown as Db, channel, form, s, deps.clock.now()))) deps.outbox.notify();
}
