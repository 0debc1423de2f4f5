/** The quota service (§1.8) through a minimal internal caller: the way send paths use it. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { channels, type Channel } from "@/db/schema";
import { AppError } from "@/lib/errors";
import { codeToStatus, errorBody } from "@/http/errors";
import { chargeQuota, peekQuota, quotaHeaders } from "@/features/channels/quota";
import { createTestChannel } from "../fixtures";
import { startTestServer, type TestServer } from "../harness";

let server: TestServer;
let capped: Channel;
beforeAll(async () => {
  server = await startTestServer();
  capped = createTestChannel(server.deps, "Capped", { monthly_send_quota: 10 });
});
afterAll(() => server.stop());

/** A minimal send path: charge inside the transaction that would create the messages. */
const send = (channel: Channel, recipients: number, now = Date.UTC(2026, 10, 22)) =>
  server.deps.db.transaction((tx) => chargeQuota(tx, channel, recipients, now));

/** The AppError a refused send throws (fails the test when nothing is thrown). */
function refusal(fn: () => unknown): AppError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error("expected the send to be refused");
}

describe("happy", () => {
  test("unlimited channels report usage only", () => {
    const dflt = server.deps.db.select().from(channels).where(eq(channels.slug, "default")).get()!;
    expect(quotaHeaders(send(dflt, 3))).toEqual({ "x-quota-used": "3" });
  });

  test("headers with a cap, warning from 80 %, 402 at the cap, nothing charged when refused", () => {
    expect(quotaHeaders(send(capped, 7))).toEqual({ "x-quota-used": "7", "x-quota-cap": "10", "x-quota-remaining": "3" });
    expect(quotaHeaders(send(capped, 1))).toEqual({ "x-quota-used": "8", "x-quota-cap": "10", "x-quota-remaining": "2", "x-quota-warning": "1" });
    const insufficient = refusal(() => send(capped, 5));
    expect(codeToStatus[insufficient.code]).toBe(402);
    expect(errorBody(insufficient)).toEqual({ error: "Payment Required", message: "Monthly send quota insufficient: 5 recipients, 2 remaining" });
    expect(peekQuota(server.deps.db, capped, Date.UTC(2026, 10, 22)).used).toBe(8);
    send(capped, 2);
    expect(errorBody(refusal(() => send(capped, 1)))).toEqual({ error: "Payment Required", message: "Monthly send quota exhausted" });
  });

  test("a rolled-back send un-charges; a new UTC month starts at zero", () => {
    const fresh = createTestChannel(server.deps, "Rollback", { monthly_send_quota: 5 });
    expect(() =>
      server.deps.db.transaction((tx) => {
        chargeQuota(tx, fresh, 2, Date.UTC(2026, 10, 22));
        throw new Error("insert failed");
      }),
    ).toThrow("insert failed");
    expect(peekQuota(server.deps.db, fresh, Date.UTC(2026, 10, 22)).used).toBe(0);
    send(fresh, 5);
    const december = peekQuota(server.deps.db, fresh, Date.UTC(2026, 11, 1));
    expect(december).toEqual({ used: 0, cap: 5, remaining: 5, resetsAt: "2027-01-01T00:00:00.000Z" });
  });
});
