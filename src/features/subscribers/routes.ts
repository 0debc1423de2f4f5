import { Elysia } from "elysia";
import { requireSomeChannel } from "@/auth/scope";
import type { Channel, Subscriber } from "@/db/schema";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { CsvBody, SELECTOR_KEYS, type Input } from "@/http/compat";
import { validationError } from "@/lib/errors";
import { f, withWarnings, type Warning } from "@/http/fields";
import { BULK_OPTIONS, csvRows, importSubscribers, readBulkRequest } from "./bulk";
import { listSubscribers } from "./list";
import { encodeSubscriber } from "./model";
import { readEmail, readSubscriberFields, SubscriberFields } from "./fields";
import {
  addTags, getByEmail, redactSubscriber, removeTags, resubscribe, setActive, unsubscribe, updateSubscriber, upsertSubscriber,
  type SubscriberValues,
} from "./service";

const WRAPPER = { wrapper: "subscriber" } as const;
const EmailOnly = { email: SubscriberFields.email };
const EmailAndTags = { email: SubscriberFields.email, tags: f.custom((v) => ({ value: v }), { required: true }) };

/** Options of the create route that are not fields. */
const CREATE_OPTIONS = ["double_opt_in", "confirmation_template_id"];

/** Double opt-in needs the confirmation mail of §10.2, not built yet: the subscriber is created without it. */
function doubleOptInWarnings(input: Input): Warning[] {
  const out: Warning[] = [];
  if (input.double_opt_in !== undefined && input.double_opt_in !== false && input.double_opt_in !== "false") {
    out.push({ code: "parameter_ignored", param: "double_opt_in", message: "double_opt_in is not available yet; no confirmation email was sent" });
  }
  if (input.confirmation_template_id !== undefined) {
    out.push({ code: "parameter_ignored", param: "confirmation_template_id", message: "confirmation_template_id is not available yet and was ignored" });
  }
  return out;
}

/** §3 /subscribers and §3.1 /subscribers/bulk. Every route but the list needs exactly one channel. */
export const subscriberRoutes = (deps: Deps) => {
  /** An email-identified action (`email` top-level or `subscriber.email`) returning the subscriber. */
  const action = (channel: Channel, input: Input, run: (c: Channel, s: Subscriber) => Subscriber) => {
    const { values, warnings } = readSubscriberFields(input, WRAPPER, EmailOnly);
    return withWarnings(encodeSubscriber(run(channel, getByEmail(deps, channel, values.email as string)), channel.slug), warnings);
  };
  return new Elysia()
    .use(authPlugin(deps))
    .get(
      "/subscribers",
      ({ scope, input }) => {
        requireSomeChannel(scope);
        return listSubscribers(deps, scope, input);
      },
      { permission: "subscribers_read" },
    )
    .get(
      "/subscribers/find",
      ({ scope, input }) => {
        const channel = scope.one();
        const { values, warnings } = readSubscriberFields(input, WRAPPER, EmailOnly);
        return withWarnings(encodeSubscriber(getByEmail(deps, channel, values.email as string), channel.slug), warnings);
      },
      { permission: "subscribers_read" },
    )
    .post(
      "/subscribers",
      ({ principal, scope, input, set }) => {
        const channel = scope.one();
        const ignored = ["unsubscribed_at", ...(principal.scope === "all" ? [] : ["confirmed_at"])];
        const { values, warnings } = readSubscriberFields(input, { ...WRAPPER, options: CREATE_OPTIONS, ignored });
        // Subscribers added from the admin page get the system source `dashboard` (§3) unless one is given.
        if (principal.kind === "admin") values.source ??= "dashboard";
        const res = upsertSubscriber(deps, channel, values as unknown as SubscriberValues & { email: string });
        set.status = res.created ? 201 : 200;
        return withWarnings(encodeSubscriber(res.subscriber, channel.slug), [...warnings, ...doubleOptInWarnings(input), ...res.warnings]);
      },
      { permission: "subscribers_write" },
    )
    .patch(
      "/subscribers",
      ({ scope, input }) => {
        const channel = scope.one();
        const { email: identifying, custom_data_mode: mode, ...fields } = input;
        const current = readEmail(identifying);
        if ("error" in current) throw validationError({ email: [current.error] });
        if (mode !== undefined && mode !== "merge" && mode !== "replace") throw validationError({ custom_data_mode: ["must be merge or replace"] });
        const { values, warnings } = readSubscriberFields(fields, { ...WRAPPER, partial: true, ignored: ["confirmed_at", "unsubscribed_at"] });
        const row = updateSubscriber(deps, channel, getByEmail(deps, channel, current.value), values, { mergeCustomData: mode === "merge" });
        return withWarnings(encodeSubscriber(row, channel.slug), warnings);
      },
      { permission: "subscribers_write" },
    )
    .post(
      "/subscribers/add_tag",
      ({ scope, input }) => {
        const channel = scope.one();
        const { values, warnings } = readSubscriberFields(input, WRAPPER, EmailAndTags);
        const row = addTags(deps, channel, getByEmail(deps, channel, values.email as string), (values.tags as string[] | null) ?? []);
        return withWarnings(encodeSubscriber(row, channel.slug), warnings);
      },
      { permission: "subscribers_write" },
    )
    .delete(
      "/subscribers/remove_tag",
      ({ scope, input }) => {
        const channel = scope.one();
        const { values, warnings } = readSubscriberFields(input, WRAPPER, EmailAndTags);
        const row = removeTags(deps, channel, getByEmail(deps, channel, values.email as string), (values.tags as string[] | null) ?? []);
        return withWarnings(encodeSubscriber(row, channel.slug), warnings);
      },
      { permission: "subscribers_write" },
    )
    .post("/subscribers/deactivate", ({ scope, input }) => action(scope.one(), input, (c, s) => setActive(deps, c, s, false)), {
      permission: "subscribers_write",
    })
    .post("/subscribers/activate", ({ scope, input }) => action(scope.one(), input, (c, s) => setActive(deps, c, s, true)), {
      permission: "subscribers_write",
    })
    .post("/subscribers/unsubscribe", ({ scope, input }) => action(scope.one(), input, (c, s) => unsubscribe(deps, c, s)), {
      permission: "subscribers_write",
    })
    .post("/subscribers/resubscribe", ({ scope, input }) => action(scope.one(), input, (c, s) => resubscribe(deps, c, s)), {
      permission: "subscribers_write",
    })
    .post(
      "/subscribers/redact",
      ({ scope, input }) => {
        const channel = scope.one();
        const { values, warnings } = readSubscriberFields(input, WRAPPER, EmailOnly);
        redactSubscriber(deps, channel, getByEmail(deps, channel, values.email as string));
        return withWarnings({ message: "Subscriber successfully redacted" }, warnings);
      },
      { permission: "subscribers_write" },
    )
    .post(
      "/subscribers/bulk",
      ({ scope, input, body }) => {
        const channel = scope.one();
        const req = readBulkRequest(input, body instanceof CsvBody ? csvRows(body.text) : null);
        const { warnings, ...result } = importSubscribers(deps, channel, req);
        for (const key of Object.keys(input)) {
          if (!BULK_OPTIONS.includes(key) && !SELECTOR_KEYS.has(key)) {
            warnings.unshift({ code: "unrecognized_parameter", param: key, message: `${key} is not a parameter of this route` });
          }
        }
        return withWarnings(result, warnings);
      },
      { permission: "subscribers_write" },
    );
};
