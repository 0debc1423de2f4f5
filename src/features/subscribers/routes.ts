import { Elysia, t } from "elysia";
import type { Principal } from "@/auth/principal";
import type { Channel, Subscriber } from "@/db/schema";
import type { Deps } from "@/deps";
import { authPlugin } from "@/http/auth";
import { CsvBody } from "@/input/values";
import { route } from "@/http/contract";
import { f, withWarnings } from "@/input/fields";
import { Int, MessageSchema, PaginationSchema, Strict, Warnings } from "@/input/schemas";
import { BulkFields, csvRows, importSubscribers, readBulkRequest } from "./bulk";
import { listSubscribers, SubscriberListFilters } from "./list";
import { encodeSubscriber, SubscriberSchema } from "./model";
import { DoubleOptInOptions, doubleOptInOf, emailField, SubscriberFields, tagsField } from "./fields";
import { subscribeWithConfirmation } from "./double-opt-in";
import { addTags, getByEmail, redactSubscriber, removeTags, resubscribe, setActive, unsubscribe, updateSubscriber, upsertSubscriber } from "./service";

const WRAPPER = "subscriber";
const EmailOnly = { email: emailField() };
const EmailAndTags = { email: emailField(), tags: tagsField(true) };
const UpdateOptions = {
  email: emailField(),
  custom_data_mode: f.enum(["merge", "replace"], { message: "must be merge or replace", description: "How a given custom_data meets the stored one (replace by default)" }),
};
const write = { permission: "subscribers_write", channel: "one" } as const;

/** GET /subscribers: both envelopes (`subscribers`+`pagination` for the SDKs, `data`+`meta` for seed 001). */
const SubscriberListSchema = Strict({
  subscribers: t.Array(SubscriberSchema),
  pagination: PaginationSchema,
  data: t.Array(SubscriberSchema),
  meta: Strict({ current_page: Int(), total_pages: Int(), total_count: Int(), per_page: Int() }),
  warnings: t.Optional(Warnings),
});
const BulkResultSchema = Strict({
  created: Int(),
  updated: Int(),
  skipped: Int(),
  errors: t.Array(Strict({ row: Int(), email: t.Union([t.String(), t.Null()]), errors: t.Record(t.String(), t.Array(t.String())) })),
});

/** POST /subscribers: with double opt-in, the link of the confirmation email that went out. */
const SubscriberWithConfirmationSchema = Strict({ ...SubscriberSchema.properties, confirmation_url: t.Optional(t.String()) });

/** A subscriber found by the request's email and changed by `run`. */
type Action = (c: Channel, s: Subscriber) => Subscriber;

/** §3 /subscribers and §3.1 /subscribers/bulk. Every route but the list needs exactly one channel. */
export const subscriberRoutes = (deps: Deps) => {
  const action = (summary: string, run: Action) =>
    route(
      { summary, ...write, body: { fields: EmailOnly, wrapper: WRAPPER }, response: { 200: SubscriberSchema } },
      ({ channel, values, warnings }) => withWarnings(encodeSubscriber(run(channel, getByEmail(deps, channel, values.email)), channel.slug), warnings),
    );
  const tagAction = (summary: string, change: typeof addTags) =>
    route({ summary, ...write, body: { fields: EmailAndTags, wrapper: WRAPPER }, response: { 200: SubscriberSchema } }, ({ channel, values, warnings }) => {
      const row = change(deps, channel, getByEmail(deps, channel, values.email), values.tags ?? []);
      return withWarnings(encodeSubscriber(row, channel.slug), warnings);
    });
  return new Elysia()
    .use(authPlugin(deps))
    .get(
      "/subscribers",
      ...route(
        {
          summary: "List subscribers",
          permission: "subscribers_read",
          channel: "some",
          pagination: { style: "page" },
          query: { fields: SubscriberListFilters },
          response: { 200: SubscriberListSchema },
        },
        ({ scope, query, page }) => listSubscribers(deps, scope, query, page),
      ),
    )
    .get(
      "/subscribers/find",
      ...route(
        { summary: "Find a subscriber by email", permission: "subscribers_read", channel: "one", query: { fields: EmailOnly, wrapper: WRAPPER }, response: { 200: SubscriberSchema } },
        ({ channel, query, warnings }) => withWarnings(encodeSubscriber(getByEmail(deps, channel, query.email), channel.slug), warnings),
      ),
    )
    .post(
      "/subscribers",
      ...route(
        {
          summary: "Create a subscriber, or update the one with this email (upsert)",
          ...write,
          body: {
            fields: SubscriberFields,
            wrapper: WRAPPER,
            options: DoubleOptInOptions,
            // confirmed_at may be set by scope-all tokens only (imports of already confirmed lists).
            ignored: (p: Principal) => (p.scope === "all" ? ["unsubscribed_at"] : ["unsubscribed_at", "confirmed_at"]),
          },
          response: { 200: SubscriberWithConfirmationSchema, 201: SubscriberWithConfirmationSchema },
        },
        ({ principal, channel, values, options, warnings, set }) => {
          // Subscribers added from the admin page get the system source `dashboard` (§3) unless one is given.
          const fields = principal.kind === "admin" ? { source: "dashboard", ...values } : values;
          const doi = doubleOptInOf(options);
          const res = doi ? subscribeWithConfirmation(deps, channel, fields, doi) : { ...upsertSubscriber(deps, channel, fields), confirmationUrl: null };
          if (res.confirmationUrl) deps.outbox.notify();
          set.status = res.created ? 201 : 200;
          // §3: double opt-in adds the link of the confirmation email that went out (`confirmation_status` is always there).
          const body = { ...encodeSubscriber(res.subscriber, channel.slug), ...(res.confirmationUrl ? { confirmation_url: res.confirmationUrl } : {}) };
          return withWarnings(body, [...warnings, ...res.warnings]);
        },
      ),
    )
    .patch(
      "/subscribers",
      ...route(
        {
          summary: "Update the subscriber with this email (subscriber.email renames it)",
          ...write,
          body: { fields: SubscriberFields, wrapper: WRAPPER, partial: true, options: UpdateOptions, ignored: ["confirmed_at", "unsubscribed_at"] },
          response: { 200: SubscriberSchema },
        },
        ({ channel, values, options, warnings }) => {
          const current = getByEmail(deps, channel, options.email);
          const row = updateSubscriber(deps, channel, current, values, { mergeCustomData: options.custom_data_mode === "merge" });
          return withWarnings(encodeSubscriber(row, channel.slug), warnings);
        },
      ),
    )
    .post("/subscribers/add_tag", ...tagAction("Add tags to a subscriber", addTags))
    .delete("/subscribers/remove_tag", ...tagAction("Remove tags from a subscriber", removeTags))
    .post("/subscribers/deactivate", ...action("Deactivate a subscriber", (c, s) => setActive(deps, c, s, false)))
    .post("/subscribers/activate", ...action("Activate a subscriber", (c, s) => setActive(deps, c, s, true)))
    .post("/subscribers/unsubscribe", ...action("Unsubscribe a subscriber", (c, s) => unsubscribe(deps, c, s)))
    .post("/subscribers/resubscribe", ...action("Resubscribe a subscriber", (c, s) => resubscribe(deps, c, s)))
    .post(
      "/subscribers/redact",
      ...route(
        { summary: "Erase a subscriber's personal data", ...write, body: { fields: EmailOnly, wrapper: WRAPPER }, response: { 200: MessageSchema } },
        ({ channel, values, warnings }) => {
          redactSubscriber(deps, channel, getByEmail(deps, channel, values.email));
          return withWarnings({ message: "Subscriber successfully redacted" }, warnings);
        },
      ),
    )
    .post(
      "/subscribers/bulk",
      ...route(
        { summary: "Import up to 10,000 subscribers (JSON or CSV)", ...write, body: { fields: BulkFields, csv: true }, response: { 200: BulkResultSchema } },
        ({ channel, values, body, warnings }) => {
          const req = readBulkRequest(values, body instanceof CsvBody ? csvRows(body.text) : null);
          const { warnings: rowWarnings, ...result } = importSubscribers(deps, channel, req);
          return withWarnings(result, [...warnings, ...rowWarnings]);
        },
      ),
    );
};
