/**
 * Shared set-up for the provider webhook tests: a real server whose default channel delivers through
 * an email server of the provider's vendor (pointing at a real smtp sink, keys configured over the
 * API), a transactional delivered through it, posts to /hooks/providers over real HTTP, and what a
 * report leaves behind (suppressions, events in the feed, seen event ids).
 */
import { afterEach, beforeEach, expect } from "bun:test";
import { startOutboxTest, type OutboxTest } from "../outbox/helpers";
import type { SinkMessage, SmtpSink } from "../smtp-sink";

export interface HookTest extends OutboxTest {
  emailServerId: number;
  /** The provider's webhook URL as the email server object shows it. */
  hookUrl: string;
  smtpSink: SmtpSink;
  /** A transactional to `to`, delivered through the provider's server; its outbox row and what the provider received. */
  delivered(to: string): Promise<{ id: number; message_id: string; received: SinkMessage }>;
  /** POST to the hook URL (or another path under /hooks/providers) with a raw body. */
  post(body: string, headers?: Record<string, string>, url?: string): Promise<{ status: number; body: any }>;
  suppression(email: string): { reason: string; source: string } | undefined;
  /** Data of the events of `type` in GET /api/v1/events. */
  feed(type: string): Promise<any[]>;
  seenEvents(): number;
}

/** Around each test: a fresh server with an email server of `vendor` configured with `fields`. */
export function eachProviderServer(provider: string, vendor: string, fields: () => Record<string, unknown>, use: (t: HookTest) => void): void {
  let current: HookTest;
  beforeEach(async () => {
    current = await startHookTest(provider, vendor, fields());
    use(current);
  });
  afterEach(() => current.stop());
}

async function startHookTest(provider: string, vendor: string, fields: Record<string, unknown>): Promise<HookTest> {
  const t = await startOutboxTest();
  const smtpSink = await t.sink();
  const server = await t.addServer(smtpSink.port, { vendor, ...fields });
  const hookUrl: string = server.provider_webhook_urls[provider];
  let deliveredCount = 0;
  expect(hookUrl).toBe(`${t.server.deps.config.publicUrl}/hooks/providers/${server.id}/${provider}`);
  return Object.assign(t, {
    emailServerId: server.id as number,
    hookUrl,
    smtpSink,
    async delivered(to: string) {
      const sent = await t.send({ to });
      await t.tick();
      expect(t.row(sent.id).status).toBe("sent");
      // The sink records a message once it has parsed it, which may be after its 250.
      const received = (await smtpSink.waitFor(++deliveredCount)).at(-1)!;
      expect(received.envelope.to).toEqual([to]);
      return { id: sent.id as number, message_id: t.row(sent.id).message_id, received };
    },
    async post(body: string, headers: Record<string, string> = {}, url = hookUrl) {
      // The server listens on its own address; the public URL only names the path.
      const res = await fetch(t.server.url + new URL(url).pathname, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    suppression: (email: string) => t.server.sql("SELECT reason, source FROM suppressions WHERE email = ?", email)[0],
    async feed(type: string) {
      const res = await t.server.request("GET", `/api/v1/events?type=${type}`);
      expect(res.status).toBe(200);
      return res.body.data.map((e: any) => e.data);
    },
    seenEvents: () => t.server.sql("SELECT count(*) AS n FROM provider_hook_events")[0].n as number,
  });
}

/** Nothing was recorded: no suppression, no report, no bounce or complaint event, no seen event id. */
export async function expectNothingRecorded(t: HookTest, email: string): Promise<void> {
  expect(t.suppression(email)).toBeUndefined();
  expect(t.server.sql("SELECT count(*) AS n FROM delivery_reports")[0].n).toBe(0);
  expect(await t.feed("email.bounced")).toEqual([]);
  expect(await t.feed("email.complained")).toEqual([]);
  expect(t.seenEvents()).toBe(0);
}
