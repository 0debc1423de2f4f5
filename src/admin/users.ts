/**
 * Dashboard admin users (docs/api-reference.md §19): login with brute-force limits (per IP; per login, or per
 * device cookie for a browser that signed in to that login before), and user management
 * (argon2id hashes, passwords ≥ 12 characters, the last admin cannot be deleted). Every change and
 * every login attempt is written to the audit log (§2.6).
 */
import { count, eq } from "drizzle-orm";
import { REDACTED, recordAudit, type AuditContext } from "@/features/audit_log/service";
import type { ClientInfo } from "@/auth/principal";
import { RateLimiter } from "@/auth/rate-limiter";
import { admin_users, type AdminUser } from "@/db/schema";
import type { Deps } from "@/deps";
import { AppError, notFound, unauthorized, unprocessable, validationError } from "@/lib/errors";
import { toIso } from "@/lib/time";
import { DeviceCookies } from "./device-cookie";
import type { AdminSessions } from "./session";

const LOGIN_PER_IP = { limit: 10, windowMs: 60_000 };
/** Failures allowed per login from unknown browsers, and per device cookie from known ones. */
const FAILURES = { limit: 5, windowMs: 15 * 60_000 };
const RESOURCE = "Admin user";

export const encodeAdminUser = (u: Pick<AdminUser, "id" | "email" | "created_at" | "updated_at">) => ({
  id: u.id,
  email: u.email,
  created_at: toIso(u.created_at),
  updated_at: toIso(u.updated_at),
});

/** Admin logins are names like "admin" or an email address: stored trimmed and lower-case. */
export const normalizeLogin = (email: string) => email.trim().toLowerCase();

const tooManyAttempts = (retryAfter: number) =>
  new AppError("rate_limited", "Too many login attempts. Please retry later.", {}, { "retry-after": String(retryAfter) });

/** argon2id, as every stored admin password. */
export function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: "argon2id" });
}

export class AdminUsers {
  private readonly perIp = new RateLimiter<string>(LOGIN_PER_IP.windowMs);
  private readonly failuresPerEmail = new RateLimiter<string>(FAILURES.windowMs);
  private readonly failuresPerDevice = new RateLimiter<string>(FAILURES.windowMs);
  private readonly devices: DeviceCookies;
  /** Compared against when the login is unknown, so a miss costs as long as a wrong password. */
  private decoyHash: Promise<string> | null = null;
  private prunedAt = 0;

  constructor(
    private readonly deps: Deps,
    private readonly sessions: AdminSessions,
  ) {
    this.devices = new DeviceCookies(deps, sessions);
  }

  /**
   * Checks credentials; returns the user and Set-Cookie values for a new session and device cookie.
   * @throws 401 bad credentials, 429 over 10 attempts/min per IP or 5 failures/15 min per login
   *   (per device cookie when the request carries a valid one for this login).
   */
  async login(emailInput: string, password: string, client: ClientInfo, cookieHeader: string | null): Promise<{ user: AdminUser; cookies: string[] }> {
    const { deps } = this;
    const now = deps.clock.now();
    const email = normalizeLogin(emailInput);
    // Random logins and addresses would otherwise grow the limiters without bound.
    if (now - this.prunedAt >= LOGIN_PER_IP.windowMs) {
      this.prunedAt = now;
      this.perIp.prune(now);
      this.failuresPerEmail.prune(now);
      this.failuresPerDevice.prune(now);
    }
    const ip = this.perIp.take(client.ip, LOGIN_PER_IP.limit, now);
    if (!ip.allowed) throw tooManyAttempts(ip.retryAfter);
    // A known browser answers only for its own failures, so failures from elsewhere cannot lock it out.
    const device = await this.devices.verify(cookieHeader, email);
    const [failures, failureKey] = device ? [this.failuresPerDevice, device] : [this.failuresPerEmail, email];
    const lockout = failures.check(failureKey, FAILURES.limit, now);
    if (!lockout.allowed) throw tooManyAttempts(lockout.retryAfter);

    const user = deps.db.select().from(admin_users).where(eq(admin_users.email, email)).get();
    const valid = user
      ? await Bun.password.verify(password, user.password_hash)
      : (await Bun.password.verify(password, await (this.decoyHash ??= hashPassword(crypto.randomUUID()))), false);
    const audit = { actor: { type: "admin" as const, id: user?.id ?? null, label: email }, ip: client.ip, userAgent: client.userAgent };
    const target = { type: "admin_user", id: user?.id ?? null, label: email };
    if (!user || !valid) {
      failures.take(failureKey, FAILURES.limit, now);
      recordAudit(deps.db, deps.clock, { ...audit, action: "admin.login_failed", target });
      throw unauthorized("Invalid email or password");
    }
    const cookies = [await this.sessions.issue(user.id), await this.devices.issue(email)];
    recordAudit(deps.db, deps.clock, { ...audit, action: "admin.login", target });
    return { user, cookies };
  }

  list(limit: number, offset: number) {
    const { db } = this.deps;
    const rows = db.select().from(admin_users).orderBy(admin_users.id).limit(limit).offset(offset).all();
    return { rows, total: db.select({ n: count() }).from(admin_users).get()!.n };
  }

  get(id: number): AdminUser {
    const user = this.deps.db.select().from(admin_users).where(eq(admin_users.id, id)).get();
    if (!user) throw notFound(RESOURCE);
    return user;
  }

  async create(input: { email: string; password: string }, ctx: AuditContext): Promise<AdminUser> {
    const { db, clock } = this.deps;
    const email = normalizeLogin(input.email);
    this.assertEmailFree(email, null);
    const hash = await hashPassword(input.password);
    const now = clock.now();
    return db.transaction((tx) => {
      const user = tx.insert(admin_users).values({ email, password_hash: hash, created_at: now, updated_at: now }).returning().get();
      recordAudit(tx, clock, {
        ...ctx,
        action: "admin_user.created",
        target: { type: "admin_user", id: user.id, label: email },
        changes: { email: [null, email], password: [REDACTED, REDACTED] },
      });
      return user;
    });
  }

  /** Changes email and/or password; a new password ends the user's other sessions. */
  async update(id: number, input: { email?: string; password?: string }, ctx: AuditContext, currentSession: string | null): Promise<AdminUser> {
    const { db, clock } = this.deps;
    const before = this.get(id);
    const email = input.email === undefined ? before.email : normalizeLogin(input.email);
    if (email !== before.email) this.assertEmailFree(email, id);
    const hash = input.password === undefined ? undefined : await hashPassword(input.password);
    const changes: Record<string, [unknown, unknown]> = {};
    if (email !== before.email) changes.email = [before.email, email];
    if (hash) changes.password = [REDACTED, REDACTED];
    const user = db.transaction((tx) => {
      const updated = tx
        .update(admin_users)
        .set({ email, ...(hash ? { password_hash: hash } : {}), updated_at: clock.now() })
        .where(eq(admin_users.id, id))
        .returning()
        .get()!;
      recordAudit(tx, clock, { ...ctx, action: "admin_user.updated", target: { type: "admin_user", id, label: email }, changes });
      return updated;
    });
    if (hash) this.sessions.endAllOf(id, currentSession ?? undefined);
    return user;
  }

  /** @throws 422 for the last admin (nobody could log in any more). */
  delete(id: number, ctx: AuditContext): void {
    const { db, clock } = this.deps;
    const user = this.get(id);
    db.transaction((tx) => {
      if (tx.select({ n: count() }).from(admin_users).get()!.n <= 1) throw unprocessable("Cannot delete the last admin user");
      tx.delete(admin_users).where(eq(admin_users.id, id)).run();
      recordAudit(tx, clock, { ...ctx, action: "admin_user.deleted", target: { type: "admin_user", id, label: user.email } });
    });
  }

  private assertEmailFree(email: string, exceptId: number | null) {
    const other = this.deps.db.select({ id: admin_users.id }).from(admin_users).where(eq(admin_users.email, email)).get();
    if (other && other.id !== exceptId) throw validationError({ email: ["has already been taken"] });
  }
}
