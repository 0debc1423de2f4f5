import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { asc, eq } from "drizzle-orm";
import { segment_groups, segment_rules, subscriber_tags, subscribers, type NewSubscriber } from "@/db/schema";
import { compileSegment } from "@/features/segments/compile";
import { FIELDS, OPERATORS, type GroupDef, type RuleDef, type RuleType } from "@/features/segments/rules";
import { createTestChannel, createTestToken } from "../fixtures";
import { fakeClock, startTestServer, type TestServer } from "../harness";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 0, 15, 10, 30);
let server: TestServer;
let marketingId: number;

beforeAll(async () => {
  server = await startTestServer({ clock: fakeClock(NOW) });
  marketingId = createTestChannel(server.deps, "Marketing").id;
});
afterAll(() => server.stop());

/** Inserts a subscriber and its tag mirror rows directly. */
function insertSubscriber(fields: Partial<NewSubscriber> & { email: string }, channelId = 1) {
  const row = server.deps.db
    .insert(subscribers)
    .values({ channel_id: channelId, tags: [], custom_data: {}, created_at: NOW, updated_at: NOW, ...fields })
    .returning()
    .get();
  for (const tag of row.tags) server.deps.db.insert(subscriber_tags).values({ subscriber_id: row.id, channel_id: channelId, tag }).run();
  return row;
}

const rule = (field: string, operator: string, value?: unknown, extra: Record<string, unknown> = {}) => ({ field, operator, value, ...extra });
const createSegment = (body: Record<string, unknown>, token?: string) =>
  server.request("POST", "/api/v1/segments", { body: { channel: "default", ...body }, token });

// ---------------------------------------------------------------- deterministic fixtures for the API tests

describe("happy", () => {
  let ada: number, bob: number;
  beforeAll(() => {
    ada = insertSubscriber({
      email: "ada@gmail.com",
      first_name: "Ada",
      tags: ["vip"],
      custom_data: { plan: "pro" },
      total_emails_opened: 2,
      created_at: NOW - 2 * DAY,
    }).id;
    bob = insertSubscriber({ email: "bob@yahoo.com", first_name: "Bob", tags: [], custom_data: { plan: "free" }, created_at: NOW - 40 * DAY }).id;
    insertSubscriber({ email: "carol@gmail.com", first_name: "Carol", redacted_at: NOW, tags: ["vip"] });
    insertSubscriber({ email: "dan@gmail.com", tags: ["vip"] }, marketingId);
  });

  test("create returns 201 with groups, rules and a fresh count", async () => {
    const res = await createSegment({
      segment: {
        name: "Active Gmail",
        description: "gmail users",
        segment_groups_attributes: [{ match_type: "all", segment_rules_attributes: [rule("email", "contains", "GMAIL.com"), rule("is_active", "is_true")] }],
      },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      channel: "default",
      name: "Active Gmail",
      description: "gmail users",
      subscribers_count: 1,
      segment_groups: [
        {
          match_type: "all",
          position: 0,
          segment_rules: [
            {
              field: "email",
              operator: "contains",
              value: "GMAIL.com",
              secondary_value: null,
              rule_type: "text",
              value_type: "string",
              position: 0,
              is_negative: false,
              case_sensitive: false,
            },
            { field: "is_active", operator: "is_true", value: null, rule_type: "boolean", position: 1 },
          ],
        },
      ],
    });
    expect(typeof res.body.segment_groups[0].id).toBe("number");
    expect(typeof res.body.segment_groups[0].segment_rules[0].id).toBe("number");
  });

  test("show returns the segment with a fresh count, its subscribers and page pagination", async () => {
    const { body: seg } = await createSegment({ name: "Everyone" });
    expect(seg.subscribers_count).toBe(2); // redacted and other-channel subscribers never match
    insertSubscriber({ email: "late@example.com", first_name: "Late" });
    const res = await server.request("GET", `/api/v1/segments/${seg.id}.json?per_page=2&page=1`);
    expect(res.status).toBe(200);
    expect(res.body.segment.subscribers_count).toBe(3);
    expect(res.body.subscribers.map((s: any) => s.id)).toEqual([ada, bob]);
    expect(res.body.subscribers[0]).toMatchObject({ email: "ada@gmail.com", channel: "default", status: "active", tags: ["vip"], custom_data: { plan: "pro" } });
    expect(res.body.pagination).toEqual({ total: 3, count: 2, from: 1, to: 2, current: 1, total_pages: 2, per_page: 2 });
    const page2 = await server.request("GET", `/api/v1/segments/${seg.id}?per_page=2&page=2`);
    expect(page2.body.subscribers.map((s: any) => s.email)).toEqual(["late@example.com"]);
    const past = await server.request("GET", `/api/v1/segments/${seg.id}?per_page=2&page=9`);
    expect(past.body.subscribers).toEqual([]);
    expect(past.body.pagination).toMatchObject({ total: 3, count: 0, from: null, to: null });
  });

  test("list uses the page envelope without groups", async () => {
    const res = await server.request("GET", "/api/v1/segments?per_page=1");
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.segments[0]).sort()).toEqual(["channel", "created_at", "description", "id", "name", "updated_at"]);
    expect(res.body.pagination.per_page).toBe(1);
    expect(res.body.pagination.total).toBeGreaterThanOrEqual(2);
    const clamped = await server.request("GET", "/api/v1/segments?per_page=999");
    expect(clamped.body.pagination.per_page).toBe(250);
    expect(clamped.body.warnings[0]).toMatchObject({ code: "value_adjusted", param: "per_page" });
  });

  test("groups OR, any/all, negation, tags and custom data over HTTP", async () => {
    const { body } = await createSegment({
      name: "Mixed",
      segment_groups: [
        { match_type: "any", segment_rules: [rule("tags", "contains", "vip"), rule("custom_data.plan", "equals", "PRO")] },
        { segment_rules: [rule("created_at", "within_last_days", 7, { is_negative: true }), rule("first_name", "equals", "Bob", { case_sensitive: true })] },
      ],
    });
    expect(body.subscribers_count).toBe(2);
    const show = await server.request("GET", `/api/v1/segments/${body.id}`);
    expect(show.body.subscribers.map((s: any) => s.id)).toEqual([ada, bob]);
  });

  test("patch updates fields; a present groups array replaces all groups; omitted keeps them", async () => {
    const { body: seg } = await createSegment({ name: "Patch me", segment_groups_attributes: [{ segment_rules_attributes: [rule("first_name", "equals", "ada")] }] });
    expect(seg.subscribers_count).toBe(1);
    const renamed = await server.request("PATCH", `/api/v1/segments/${seg.id}`, { body: { segment: { name: "Renamed" } } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe("Renamed");
    expect(renamed.body.segment_groups).toHaveLength(1);
    const replaced = await server.request("PUT", `/api/v1/segments/${seg.id}`, {
      body: { segment_groups_attributes: [{ segment_rules_attributes: [rule("first_name", "starts_with", "b")] }, { segment_rules_attributes: [] }] },
    });
    expect(replaced.body.segment_groups).toHaveLength(2);
    expect(replaced.body.segment_groups[0].segment_rules[0]).toMatchObject({ operator: "starts_with", value: "b" });
    expect(replaced.body.subscribers_count).toBe(3); // the empty group matches everyone
    const groupRows = server.deps.db.select().from(segment_groups).where(eq(segment_groups.segment_id, seg.id)).all();
    expect(groupRows).toHaveLength(2);
    const cleared = await server.request("PATCH", `/api/v1/segments/${seg.id}`, { body: { segment_groups_attributes: [] } });
    expect(cleared.body.segment_groups).toEqual([]);
  });

  test("delete removes the segment with its groups and rules", async () => {
    const { body: seg } = await createSegment({ name: "Doomed", segment_groups_attributes: [{ segment_rules_attributes: [rule("tags", "is_empty")] }] });
    const res = await server.request("DELETE", `/api/v1/segments/${seg.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ message: "Segment deleted successfully" });
    expect((await server.request("GET", `/api/v1/segments/${seg.id}`)).status).toBe(404);
    const groupId = seg.segment_groups[0].id;
    expect(server.deps.db.select().from(segment_rules).where(eq(segment_rules.group_id, groupId)).all()).toEqual([]);
  });

  test("values are normalised: numbers, dates to UTC days, day counts", async () => {
    const { body } = await createSegment({
      name: "Normalised",
      segment_groups_attributes: [
        {
          segment_rules_attributes: [
            rule("total_emails_opened", "greater_than_or_equal", "2"),
            rule("created_at", "after", "2025-12-31T23:30:00-02:00"),
            rule("last_email_sent_at", "not_within_last_days", "30"),
          ],
        },
      ],
    });
    expect(body.segment_groups[0].segment_rules.map((r: any) => r.value)).toEqual(["2", "2026-01-01", "30"]);
    expect(body.subscribers_count).toBe(1);
  });
});

describe("errors", () => {
  test("rule errors are reported on their exact dot-path", async () => {
    const res = await createSegment({
      name: "Bad",
      segment_groups_attributes: [
        { segment_rules_attributes: [rule("email", "contains", "x")] },
        {
          match_type: "some",
          segment_rules_attributes: [
            rule("email", "contains", "ok"),
            rule("email", "greater_than", "x"),
            rule("colour", "equals", "red"),
            rule("total_emails_sent", "equals", "many"),
            rule("created_at", "before", "yesterday"),
            rule("created_at", "within_last_days", -3),
            rule("tags", "contains", ""),
            rule("custom_data.plan", "equals", "x", { rule_type: "blob" }),
            rule("is_active", "is_true", null, { is_negative: "perhaps" }),
            "not a rule",
            rule("toString", "equals", "x"),
            rule("custom_data.plan", "equals", "x", { rule_type: "constructor" }),
          ],
        },
      ],
    });
    expect(res.status).toBe(422);
    const p = "segment_groups_attributes.1";
    expect(res.body.errors).toEqual({
      [`${p}.match_type`]: ["is not included in the list"],
      [`${p}.segment_rules_attributes.1.operator`]: [expect.stringMatching(/^is not valid for a text field/)],
      [`${p}.segment_rules_attributes.2.field`]: ["is not included in the list"],
      [`${p}.segment_rules_attributes.3.value`]: ["is not a number"],
      [`${p}.segment_rules_attributes.4.value`]: ["is not a valid ISO-8601 date"],
      [`${p}.segment_rules_attributes.5.value`]: [expect.stringMatching(/^must be a whole number of days/)],
      [`${p}.segment_rules_attributes.6.value`]: ["can't be blank"],
      [`${p}.segment_rules_attributes.7.rule_type`]: ["is not included in the list"],
      [`${p}.segment_rules_attributes.8.is_negative`]: ["must be true or false"],
      [`${p}.segment_rules_attributes.9`]: ["must be an object"],
      [`${p}.segment_rules_attributes.10.field`]: ["is not included in the list"],
      [`${p}.segment_rules_attributes.11.rule_type`]: ["is not included in the list"],
    });
    expect(res.body.error).toMatch(/^Match type is not included in the list, Operator is not valid/);
  });

  test("the alias keys are used in the paths when sent", async () => {
    const res = await createSegment({ name: "Alias", segment_groups: [{ segment_rules: [rule("email", "bogus", "x")] }] });
    expect(res.status).toBe(422);
    expect(Object.keys(res.body.errors)).toEqual(["segment_groups.0.segment_rules.0.operator"]);
  });

  test("name is required, limits apply, and nothing is written on error", async () => {
    const before = server.deps.db.select().from(segment_groups).all().length;
    const res = await createSegment({ description: "x".repeat(1001), segment_groups_attributes: [{ segment_rules_attributes: [rule("email", "nope")] }] });
    expect(res.status).toBe(422);
    expect(Object.keys(res.body.errors).sort()).toEqual(["description", "name", "segment_groups_attributes.0.segment_rules_attributes.0.operator"]);
    expect(server.deps.db.select().from(segment_groups).all().length).toBe(before);
    const long = await createSegment({ name: "n".repeat(256) });
    expect(long.body.errors).toEqual({ name: ["is too long (maximum is 255 characters)"] });
  });

  test("at most 20 groups and 50 rules per group", async () => {
    const group = { segment_rules_attributes: Array.from({ length: 50 }, () => rule("is_active", "is_true")) };
    const ok = await createSegment({ name: "Max", segment_groups_attributes: Array.from({ length: 20 }, () => group) });
    expect(ok.status).toBe(201);
    expect(ok.body.segment_groups).toHaveLength(20);
    const tooManyGroups = await createSegment({ name: "Too many", segment_groups_attributes: Array.from({ length: 21 }, () => group) });
    expect(tooManyGroups.body.errors).toEqual({ segment_groups_attributes: ["is too long (maximum is 20 groups)"] });
    const tooManyRules = await createSegment({
      name: "Too many rules",
      segment_groups_attributes: [{ segment_rules_attributes: [...group.segment_rules_attributes, rule("is_active", "is_true")] }],
    });
    expect(tooManyRules.body.errors).toEqual({ "segment_groups_attributes.0.segment_rules_attributes": ["is too long (maximum is 50 rules)"] });
    const notArray = await createSegment({ name: "Not array", segment_groups_attributes: { a: 1 } });
    expect(notArray.body.errors).toEqual({ segment_groups_attributes: ["must be an array"] });
  });

  test("invalid custom_data keys are refused", async () => {
    const res = await createSegment({ name: "Key", segment_groups_attributes: [{ segment_rules_attributes: [rule('custom_data.a"b', "equals", "x"), rule("custom_data.", "equals", "x")] }] });
    expect(Object.keys(res.body.errors)).toEqual([
      "segment_groups_attributes.0.segment_rules_attributes.0.field",
      "segment_groups_attributes.0.segment_rules_attributes.1.field",
    ]);
  });

  test("patch errors leave the segment unchanged", async () => {
    const { body: seg } = await createSegment({ name: "Stable", segment_groups_attributes: [{ segment_rules_attributes: [rule("tags", "contains", "vip")] }] });
    const res = await server.request("PATCH", `/api/v1/segments/${seg.id}`, { body: { name: "Changed", segment_groups_attributes: [{ segment_rules_attributes: [rule("tags", "equals", "vip")] }] } });
    expect(res.status).toBe(422);
    const after = await server.request("GET", `/api/v1/segments/${seg.id}`);
    expect(after.body.segment.name).toBe("Stable");
    expect(after.body.segment.segment_groups[0].segment_rules[0].operator).toBe("contains");
  });

  test("not found, bad ids and other channels are 404", async () => {
    for (const path of ["/api/v1/segments/999999", "/api/v1/segments/x1"]) {
      const res = await server.request("GET", path);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: "Segment not found" });
    }
    const { body: seg } = await server.request("POST", "/api/v1/segments", { body: { channel: "marketing", name: "Theirs" } });
    const token = createTestToken(server.deps, { permissions: ["segments_read", "segments_write"], channels: ["default"] });
    for (const method of ["GET", "PATCH", "DELETE"]) {
      expect((await server.request(method, `/api/v1/segments/${seg.id}`, { token, body: method === "PATCH" ? { name: "x" } : undefined })).status).toBe(404);
    }
  });

  test("create needs exactly one channel", async () => {
    const res = await server.request("POST", "/api/v1/segments", { body: { name: "Where" } });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual({ channel: ["must identify exactly one channel"] });
  });
});

describe("permissions", () => {
  test("read token can list and show but not write; other permissions are 403", async () => {
    const read = createTestToken(server.deps, { permissions: ["segments_read"], channels: ["default"] });
    expect((await server.request("GET", "/api/v1/segments", { token: read })).status).toBe(200);
    const denied = await server.request("POST", "/api/v1/segments", { token: read, body: { name: "No" } });
    expect(denied.status).toBe(403);
    expect(denied.body.required_permission).toBe("segments_write");
    const other = createTestToken(server.deps, { permissions: ["templates_read"], channels: ["default"] });
    expect((await server.request("GET", "/api/v1/segments", { token: other })).status).toBe(403);
    expect((await server.request("GET", "/api/v1/segments", { token: null })).status).toBe(401);
  });

  test("a channel-scoped token lists and creates only in its channel", async () => {
    const token = createTestToken(server.deps, { permissions: ["segments_read", "segments_write"], channels: ["marketing"] });
    const created = await server.request("POST", "/api/v1/segments", { token, body: { name: "Mine" } });
    expect(created.status).toBe(201);
    expect(created.body.channel).toBe("marketing");
    expect(created.body.subscribers_count).toBe(1);
    const list = await server.request("GET", "/api/v1/segments", { token });
    expect(list.body.segments.every((s: any) => s.channel === "marketing")).toBe(true);
  });
});

// ---------------------------------------------------------------- property test: SQL vs an independent evaluator

/** mulberry32: small seeded PRNG so failures reproduce (seed printed on failure). */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Row {
  id: number;
  channel_id: number;
  redacted: boolean;
  email: string;
  first_name: string | null;
  last_name: string | null;
  source: string;
  confirmed_at: number | null;
  confirmation_sent_at: number | null;
  is_active: boolean;
  total_emails_sent: number;
  total_emails_opened: number;
  total_emails_clicked: number;
  created_at: number;
  subscribed_at: number | null;
  last_email_sent_at: number | null;
  last_email_opened_at: number | null;
  last_email_clicked_at: number | null;
  tags: string[];
  custom_data: Record<string, unknown>;
}

/** The §7 table, evaluated in plain JS (independent of the SQL compiler). */
function evaluate(row: Row, groups: GroupDef[], channelId: number, now: number): boolean {
  if (row.channel_id !== channelId || row.redacted) return false;
  if (groups.length === 0) return true;
  return groups.some((g) => (g.rules.length === 0 ? true : g.match_type === "all" ? g.rules.every((r) => evalRule(row, r, now)) : g.rules.some((r) => evalRule(row, r, now))));
}

const lowerAscii = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

function evalRule(row: Row, r: RuleDef, now: number): boolean {
  const result = evalBase(row, r, now);
  return r.is_negative ? !result : result;
}

function evalText(val: string, r: RuleDef, isEmail: boolean): boolean {
  if (r.operator === "is_empty") return val === "";
  if (r.operator === "is_not_empty") return val !== "";
  const raw = r.value!;
  const v = r.case_sensitive ? raw : isEmail ? raw.toLowerCase() : lowerAscii(raw);
  const e = r.case_sensitive || isEmail ? val : lowerAscii(val);
  switch (r.operator) {
    case "equals":
      return e === v;
    case "not_equals":
      return e !== v;
    case "contains":
      return e.includes(v);
    case "not_contains":
      return !e.includes(v);
    case "starts_with":
      return e.startsWith(v);
    case "ends_with":
      return e.endsWith(v);
  }
  throw new Error(r.operator);
}

function evalNumber(n: number, r: RuleDef): boolean {
  const v = Number(r.value);
  switch (r.operator) {
    case "equals":
      return n === v;
    case "not_equals":
      return n !== v;
    case "greater_than":
      return n > v;
    case "less_than":
      return n < v;
    case "greater_than_or_equal":
      return n >= v;
    case "less_than_or_equal":
      return n <= v;
  }
  throw new Error(r.operator);
}

function evalDate(ms: number | null, r: RuleDef, now: number): boolean {
  const d0 = () => Date.parse(`${r.value}T00:00:00Z`);
  switch (r.operator) {
    case "never":
    case "is_empty":
      return ms === null;
    case "is_not_empty":
      return ms !== null;
    case "equals":
      return ms !== null && ms >= d0() && ms < d0() + DAY;
    case "before":
      return ms !== null && ms < d0();
    case "after":
      return ms !== null && ms >= d0() + DAY;
    case "within_last_days":
      return ms !== null && ms >= now - Number(r.value) * DAY;
    case "not_within_last_days":
      return !(ms !== null && ms >= now - Number(r.value) * DAY);
  }
  throw new Error(r.operator);
}

function evalBase(row: Row, r: RuleDef, now: number): boolean {
  if (r.field.startsWith("custom_data.")) {
    const x = row.custom_data[r.field.slice("custom_data.".length)];
    switch (r.rule_type) {
      case "text":
        return evalText(typeof x === "string" ? x : typeof x === "number" && Number.isInteger(x) ? String(x) : "", r, false);
      case "number":
        return typeof x === "number" && evalNumber(x, r);
      case "boolean":
        return r.operator === "is_true" ? x === true : x !== true;
      case "date": {
        const ms = typeof x === "string" ? Date.parse(x) : NaN;
        return evalDate(Number.isNaN(ms) ? null : ms, r, now);
      }
      case "array": {
        const arr = Array.isArray(x) ? x : null;
        if (r.operator === "is_empty") return !arr || arr.length === 0;
        if (r.operator === "is_not_empty") return !!arr && arr.length > 0;
        const v = r.case_sensitive ? r.value! : lowerAscii(r.value!);
        const has = !!arr && arr.some((e) => (typeof e === "string" || (typeof e === "number" && Number.isInteger(e))) && (r.case_sensitive ? String(e) : lowerAscii(String(e))) === v);
        return r.operator === "contains" ? has : !has;
      }
    }
  }
  switch (r.field) {
    case "email":
      return evalText(row.email, r, true);
    case "first_name":
    case "last_name":
      return evalText(row[r.field] ?? "", r, false);
    case "source":
      return evalText(row.source, r, false);
    case "confirmation_status":
      return evalText(row.confirmed_at !== null ? "confirmed" : row.confirmation_sent_at !== null ? "pending" : "unconfirmed", r, false);
    case "tags":
      if (r.operator === "contains") return row.tags.includes(r.value!);
      if (r.operator === "not_contains") return !row.tags.includes(r.value!);
      if (r.operator === "is_empty") return row.tags.length === 0;
      return row.tags.length > 0;
    case "is_active":
      return r.operator === "is_true" ? row.is_active : !row.is_active;
    case "has_opened_any_email":
      return r.operator === "is_true" ? row.total_emails_opened > 0 : !(row.total_emails_opened > 0);
    case "has_clicked_any_email":
      return r.operator === "is_true" ? row.total_emails_clicked > 0 : !(row.total_emails_clicked > 0);
    case "total_emails_sent":
    case "total_emails_opened":
    case "total_emails_clicked":
      return evalNumber(row[r.field], r);
    default:
      return evalDate(row[r.field as "created_at"], r, now);
  }
}

describe("property: compiled SQL agrees with an independent evaluator", () => {
  const SEED = Number(process.env.SEGMENT_SEED ?? 20260115);
  const rand = prng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const chance = (p: number) => rand() < p;
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

  const NAMES = ["Ada", "ada", "ADA", "Bob", "Émile", "Zoë", "Ōtani", "Anne-Marie", "O'Brien", "", " bob "];
  const DOMAINS = ["gmail.com", "Example.org", "yahoo.com", "mail.co.uk"];
  const SOURCES = ["api_subscription", "import", "form", "Import", "smtp"];
  const TAGS = ["vip", "VIP", "beta", "news", "a b", "früh"];
  const PLANS = ["pro", "Pro", "free", "", "PRO plus", "professional"];
  const INTERESTS = ["golf", "Golf", "chess", "tennis", 7];
  const TEXT_VALUES = ["ada", "Ada", "a", "bob", "émile", "Émile", "o", "gmail", ".com", "example.org", "Pro", "pro", "import", "confirmed", "pending", "unconfirmed", "7", "12", "golf", "zz"];
  const CUSTOM: [string, RuleType][] = [
    ["custom_data.plan", "text"],
    ["custom_data.plan", "array"],
    ["custom_data.score", "number"],
    ["custom_data.score", "text"],
    ["custom_data.vip", "boolean"],
    ["custom_data.signup", "date"],
    ["custom_data.interests", "array"],
    ["custom_data.interests", "text"],
    ["custom_data.utm.source", "text"],
    ["custom_data.missing", "number"],
  ];
  const dateIn = (days: number) => (chance(0.2) ? null : NOW - int(-2, days) * DAY - int(0, DAY - 1));

  const rows: Row[] = [];

  beforeAll(() => {
    for (let i = 0; i < 400; i++) {
      const custom: Record<string, unknown> = {};
      if (chance(0.8)) custom.plan = pick(PLANS);
      if (chance(0.7)) custom.score = chance(0.8) ? int(-5, 20) : pick(["12", "x", 3.5]);
      if (chance(0.7)) custom.vip = chance(0.8) ? chance(0.5) : pick(["true", 1, null]);
      if (chance(0.7))
        custom.signup = chance(0.85)
          ? chance(0.5)
            ? new Date(NOW - int(0, 60) * DAY - int(0, DAY)).toISOString()
            : new Date(NOW - int(0, 60) * DAY).toISOString().slice(0, 10)
          : pick(["soon", "", 20260101]);
      if (chance(0.7)) custom.interests = chance(0.8) ? Array.from({ length: int(0, 3) }, () => pick(INTERESTS)) : pick(["golf", 5]);
      if (chance(0.5)) custom["utm.source"] = pick(["Google", "newsletter", "ads"]);
      const first = chance(0.85) ? pick(NAMES) : null;
      const fields = {
        email: `${(first ?? "anon").toLowerCase().replace(/[^a-zé-ÿ]/g, "")}${i}@${pick(DOMAINS).toLowerCase()}`,
        first_name: first,
        last_name: chance(0.7) ? pick(NAMES) : null,
        source: pick(SOURCES),
        confirmed_at: chance(0.4) ? dateIn(100) : null,
        confirmation_sent_at: chance(0.4) ? dateIn(100) : null,
        is_active: chance(0.8),
        total_emails_sent: int(0, 6),
        total_emails_opened: int(0, 3),
        total_emails_clicked: chance(0.6) ? 0 : int(1, 2),
        created_at: NOW - int(0, 400) * DAY - int(0, DAY - 1),
        subscribed_at: dateIn(300),
        last_email_sent_at: dateIn(60),
        last_email_opened_at: dateIn(60),
        last_email_clicked_at: dateIn(60),
        tags: [...new Set(Array.from({ length: int(0, 3) }, () => pick(TAGS)))].sort(),
        custom_data: custom,
        redacted_at: chance(0.03) ? NOW : null,
      };
      const channel = chance(0.1) ? marketingId : 1;
      const row = insertSubscriber(fields, channel);
      rows.push({ ...fields, id: row.id, channel_id: channel, redacted: fields.redacted_at !== null });
    }
    // Include the deterministic fixtures inserted by the other blocks.
    const known = new Set(rows.map((r) => r.id));
    for (const s of server.deps.db.select().from(subscribers).orderBy(asc(subscribers.id)).all()) {
      if (!known.has(s.id)) rows.push({ ...s, redacted: s.redacted_at !== null } as Row);
    }
  });

  function randomValue(field: string, type: RuleType, operator: string): unknown {
    if (type === "number") return field.endsWith("score") ? int(-6, 21) : int(-1, 7);
    if (type === "date") {
      if (operator.includes("within")) return int(0, 90);
      return new Date(NOW - int(-1, 80) * DAY).toISOString().slice(0, 10);
    }
    if (field === "tags") return pick([...TAGS, "none"]);
    if (type === "array") return pick(["golf", "GOLF", "chess", "7", "pro", "x"]);
    if (field === "email" && chance(0.5)) return pick(["ADA", "Gmail.COM", "bob1", "é"]);
    if (field === "source") return pick(["import", "IMPORT", "api", "form", "smtp"]);
    return pick([...TEXT_VALUES, ...NAMES.filter(Boolean), ...PLANS.filter(Boolean)]);
  }

  function randomRule(): RuleDef {
    let field: string, type: RuleType;
    if (chance(0.35)) [field, type] = pick(CUSTOM);
    else {
      field = pick(Object.keys(FIELDS));
      type = FIELDS[field];
    }
    const operator = pick(OPERATORS[type]);
    const needsValue = !["is_empty", "is_not_empty", "is_true", "is_false", "never"].includes(operator);
    return {
      field,
      operator,
      value: needsValue ? String(randomValue(field, type, operator)) : null,
      secondary_value: null,
      rule_type: type,
      value_type: "string",
      is_negative: chance(0.25),
      case_sensitive: chance(0.25),
    };
  }

  function randomSegment(): GroupDef[] {
    return Array.from({ length: int(0, 3) }, () => ({ match_type: pick(["all", "any"] as const), rules: Array.from({ length: int(0, 4) }, randomRule) }));
  }

  const sqlIds = (groups: GroupDef[], channelId: number) =>
    server.deps.db
      .select({ id: subscribers.id })
      .from(subscribers)
      .where(compileSegment(groups, { channelId, now: NOW }))
      .orderBy(asc(subscribers.id))
      .all()
      .map((r) => r.id);
  const expectedIds = (groups: GroupDef[], channelId: number) =>
    rows
      .filter((r) => evaluate(r, groups, channelId, NOW))
      .map((r) => r.id)
      .sort((a, b) => a - b);

  test(`every single rule (seed ${SEED})`, () => {
    let nonTrivial = 0;
    for (let i = 0; i < 600; i++) {
      const groups: GroupDef[] = [{ match_type: "all", rules: [randomRule()] }];
      const expected = expectedIds(groups, 1);
      if (expected.length > 0 && expected.length < rows.length / 2) nonTrivial++;
      const got = sqlIds(groups, 1);
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        throw new Error(`seed ${SEED}, rule ${JSON.stringify(groups[0].rules[0])}: SQL ${got.length} ids, evaluator ${expected.length}`);
      }
    }
    expect(nonTrivial).toBeGreaterThan(100); // the data really exercises the rules
  });

  test(`random segments of groups and rules (seed ${SEED})`, () => {
    for (let i = 0; i < 300; i++) {
      const groups = randomSegment();
      const channelId = chance(0.15) ? marketingId : 1;
      const got = sqlIds(groups, channelId);
      const expected = expectedIds(groups, channelId);
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        throw new Error(`seed ${SEED}, segment ${JSON.stringify(groups)}: SQL ${got.length} ids, evaluator ${expected.length}`);
      }
    }
  });

  test("random segments through the HTTP API match the evaluator", async () => {
    for (let i = 0; i < 15; i++) {
      const groups = randomSegment();
      const body = {
        name: `Random ${i}`,
        segment_groups_attributes: groups.map((g) => ({
          match_type: g.match_type,
          segment_rules_attributes: g.rules.map((r) => ({
            field: r.field,
            operator: r.operator,
            value: r.value,
            rule_type: r.rule_type,
            is_negative: r.is_negative,
            case_sensitive: r.case_sensitive,
          })),
        })),
      };
      const created = await createSegment(body);
      expect(created.status).toBe(201);
      const expected = expectedIds(groups, 1);
      expect(created.body.subscribers_count).toBe(expected.length);
      const show = await server.request("GET", `/api/v1/segments/${created.body.id}?per_page=250`);
      expect(show.body.subscribers.map((s: any) => s.id)).toEqual(expected.slice(0, 250));
    }
  });
});
