/**
 * What a hosted form submission does (§10.1): upsert the subscriber (source `form`) with the form's
 * `tag_list`; with the form's double opt-in the subscriber is `pending` and gets the confirmation
 * email (the form's confirmation template), otherwise subscribed. Existing and unsubscribed
 * addresses get the same answer (no disclosure; an upsert never resubscribes, confirming does).
 * A new subscriber gets the form's welcome email, and an eligible one is enrolled in the form's
 * `sequence_ids` (without double opt-in; with it, on confirmation).
 * A filled honeypot gets the same answer and stores nothing.
 */
import type { Channel, OptInForm } from "@/db/schema";
import type { Deps } from "@/deps";
import { recordSubmission } from "@/features/opt_in_forms/analytics";
import { formByIdentifier } from "@/features/opt_in_forms/service";
import { subscribeWithConfirmation } from "@/features/subscribers/double-opt-in";
import { readEmail, readTags } from "@/features/subscribers/fields";
import { upsertSubscriber, type SubscriberValues } from "@/features/subscribers/service";
import type { Db } from "@/db/client";
import { enqueueWelcome } from "./welcome";
import { HONEYPOT } from "./page";

export type SubmitResult = { status: "pending_confirmation" | "subscribed" } | { errors: Record<string, string> };

const NAME_MAX = 100;

/** An enabled form and its channel by public identifier, or null. */
export function enabledForm(deps: Deps, identifier: string): { form: OptInForm; channel: Channel } | null {
  const form = formByIdentifier(deps, identifier);
  const channel = form?.enabled ? deps.auth.cache.channelById(form.channel_id) : undefined;
  return form && channel ? { form, channel } : null;
}

/** Host names an embedding page may have: exact, or `*.example.com` for its subdomains; none = any. */
export function originAllowed(form: OptInForm, host: string): boolean {
  const domains = form.allowed_embedding_domains;
  return domains.length === 0 || domains.some((d) => (d.startsWith("*.") ? host.endsWith(d.slice(1)) : host === d));
}

/** `first_name`/`last_name`, or `name` split at its first space. */
function names(input: Record<string, string>) {
  const [first, ...rest] = (input.name ?? "").trim().split(/\s+/);
  return { first: input.first_name?.trim() || first || null, last: input.last_name?.trim() || rest.join(" ") || null };
}

/** Custom values for the `custom:<key>` inputs the form has; anything else sent is dropped. */
function customData(form: OptInForm, input: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const b of form.blocks) {
    const key = b.input_field_value_type?.startsWith("custom:") ? b.input_field_value_type.slice(7) : null;
    const value = key ? input[`custom[${key}]`]?.trim() : undefined;
    if (key && value) out[key] = value.slice(0, 1000);
  }
  return out;
}

/**
 * Handles one submission of `form` (flat input: `email`, `first_name`, `last_name`, `name`,
 * `custom[<key>]`, the honeypot). A full quota defers the confirmation or welcome email (§1.8), the sign-up stands.
 */
export function submitForm(deps: Deps, form: OptInForm, channel: Channel, input: Record<string, string>): SubmitResult {
  const automation = form.automation_settings as { tag_list?: string | null; double_opt_in?: boolean; sequence_ids?: number[] };
  const doi = automation.double_opt_in === true;
  const success = { status: doi ? "pending_confirmation" : "subscribed" } as const;
  if (form.security_settings.honeypot && input[HONEYPOT]?.trim()) return success;

  const email = readEmail(input.email);
  if ("error" in email) return { errors: { email: email.error } };
  const { first, last } = names(input);
  const errors: Record<string, string> = {};
  if (first && [...first].length > NAME_MAX) errors.first_name = `is too long (maximum is ${NAME_MAX} characters)`;
  if (last && [...last].length > NAME_MAX) errors.last_name = `is too long (maximum is ${NAME_MAX} characters)`;
  if (Object.keys(errors).length) return { errors };

  // Tags that do not fit the §3 rules are left out rather than failing a visitor's sign-up.
  const tags = automation.tag_list ? readTags(automation.tag_list, "tags", {}) : [];
  const custom = customData(form, input);
  const values: SubscriberValues & { email: string } = {
    email: email.value,
    source: "form",
    tags,
    ...(first ? { first_name: first } : {}),
    ...(last ? { last_name: last } : {}),
    ...(Object.keys(custom).length ? { custom_data: custom } : {}),
  };
  // A new subscriber gets the welcome email at once and the form's sequences; with double opt-in, once confirmed.
  const queued = !doi
    ? deps.db.transaction((tx) => {
        const res = upsertSubscriber(deps, channel, values, tx as unknown as Db);
        deps.subscriberHooks.enroll(deps, tx as unknown as Db, channel, res.subscriber, automation.sequence_ids ?? []);
        return res.created && enqueueWelcome(deps, tx as unknown as Db, channel, form, res.subscriber, deps.clock.now());
      })
    : subscribeWithConfirmation(deps, channel, values, { templateId: form.confirmation_email_template_id, replyTo: null, includeUnsubscribeLink: false, formId: form.id }).confirmationUrl !== null;
  if (queued) deps.outbox.notify();
  recordSubmission(deps, form.id, deps.clock.now());
  return success;
}
