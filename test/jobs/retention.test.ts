/**
 * Retention jobs of the features: audit rows after 365 days (§2.6), events after
 * MAILROOM_EVENT_RETENTION_DAYS (§20), expired dashboard sessions, idempotency results after 24 h.
 * A fake clock moves time; each job is stepped with tick(now) on a real SQLite file.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { fakeClock, startTestServer, type TestServer } from "../harness";

const DAY = 24 * 60 * 60 * 1000;
const clock = fakeClock();
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ clock, startJobs: false, env: { MAILROOM_EVENT_RETENTION_DAYS: "30" } });
});
afterAll(() => server.stop());

test("old audit rows, old events and expired sessions are pruned; recent ones are kept", async () => {
  const now = clock.now();
  const audit = (label: string, age: number) =>
    server.sql("INSERT INTO audit_log (created_at, actor_type, actor_label, action, target_type, target_label) VALUES (?, 'system', 'system', 'test.row', 'test', ?)", now - age, label);
  audit("old audit", 366 * DAY);
  audit("recent audit", 364 * DAY);
  const event = (email: string, age: number) =>
    server.sql("INSERT INTO events (type, created_at, occurred_at, data, email) VALUES ('subscriber.created', ?, ?, '{}', ?)", now - age, now - age, email);
  event("old@example.com", 31 * DAY);
  event("recent@example.com", 29 * DAY);
  const session = (id: string, expiresIn: number) =>
    server.sql("INSERT INTO admin_sessions (id, user_id, created_at, expires_at) VALUES (?, 1, ?, ?)", id, now, now + expiresIn);
  session("expired", -1000);
  session("valid", 60 * 60_000);

  for (const name of ["audit_log.retention", "events.retention", "admin_sessions.retention", "idempotency_keys.retention"]) {
    expect(await server.running.jobs.get(name)!.tick(clock.now())).toBe(false);
  }
  expect(server.sql("SELECT target_label FROM audit_log WHERE action = 'test.row'")).toEqual([{ target_label: "recent audit" }]);
  expect(server.sql("SELECT email FROM events WHERE email LIKE '%@example.com' AND email IN ('old@example.com', 'recent@example.com')")).toEqual([
    { email: "recent@example.com" },
  ]);
  expect(server.sql("SELECT id FROM admin_sessions")).toEqual([{ id: "valid" }]);
});
