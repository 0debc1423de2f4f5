/**
 * Dashboard sessions (docs/api-reference.md §19): an HS256 JWT in the `mailroom_auth` cookie (12 h, HttpOnly,
 * SameSite=Strict, Secure over HTTPS). The JWT's `jti` names a row of `admin_sessions` (stored as its
 * SHA-256, so a copy of the database cannot be turned into a live session), so logout,
 * a password change and deleting the user end sessions at once instead of when the JWT expires.
 * The signing key is generated once per instance and kept in `settings`.
 */
import { createHash, randomBytes } from "node:crypto";
import { and, eq, gt, lte, ne, placeholder } from "drizzle-orm";
import type { Principal } from "@/auth/principal";
import { PERMISSIONS, type Permission } from "@/auth/permissions";
import { admin_sessions, admin_users } from "@/db/schema";
import { getOrCreateSetting } from "@/db/settings";
import { changes, type Db } from "@/db/client";
import type { Deps } from "@/deps";
import type { RequestMeta } from "@/http/request";
import { retentionJob } from "@/jobs/retention";

export const SESSION_COOKIE = "mailroom_auth";
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const ISSUER = "mailroom";
const ALL_PERMISSIONS: ReadonlySet<Permission> = new Set(PERMISSIONS);
/** jose's JWT modules load with the first dashboard request, not at boot (idle memory). */
export const jwtSign = () => import("jose/jwt/sign");
export const jwtVerifier = () => import("jose/jwt/verify");

export interface AdminIdentity {
  id: number;
  email: string;
  /** The session row (SHA-256 of the JWT's `jti`) this request came with. */
  sessionId: string;
}

export class AdminSessions {
  private key: Uint8Array | null = null;
  private readonly findSession;
  private readonly secure: boolean;

  constructor(private readonly deps: Deps) {
    this.findSession = deps.db
      .select({ id: admin_users.id, email: admin_users.email })
      .from(admin_sessions)
      .innerJoin(admin_users, eq(admin_users.id, admin_sessions.user_id))
      .where(and(eq(admin_sessions.id, placeholder("sid")), gt(admin_sessions.expires_at, placeholder("now"))))
      .prepare();
    this.secure = servedOverHttps(deps);
  }

  /** Starts a session for `userId`; returns the Set-Cookie value. */
  async issue(userId: number): Promise<string> {
    const now = this.deps.clock.now();
    const jti = randomBytes(18).toString("base64url");
    pruneExpiredSessions(this.deps.db, now);
    this.deps.db.insert(admin_sessions).values({ id: sessionRowId(jti), user_id: userId, created_at: now, expires_at: now + SESSION_TTL_MS }).run();
    const { SignJWT } = await jwtSign();
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuer(ISSUER)
      .setSubject(String(userId))
      .setJti(jti)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor((now + SESSION_TTL_MS) / 1000))
      .sign(this.signingKey());
    return setCookie(SESSION_COOKIE, jwt, "/admin", SESSION_TTL_MS / 1000, this.secure);
  }

  /** The admin behind the request's session cookie, or null (missing, forged, expired or ended). */
  async verify(cookieHeader: string | null): Promise<AdminIdentity | null> {
    const jwt = readCookie(cookieHeader, SESSION_COOKIE);
    if (!jwt) return null;
    const { jwtVerify } = await jwtVerifier();
    try {
      const { payload } = await jwtVerify(jwt, this.signingKey(), {
        algorithms: ["HS256"],
        issuer: ISSUER,
        currentDate: new Date(this.deps.clock.now()),
      });
      if (!payload.jti) return null;
      const sessionId = sessionRowId(payload.jti);
      const user = this.findSession.get({ sid: sessionId, now: this.deps.clock.now() });
      return user && String(user.id) === payload.sub ? { ...user, sessionId } : null;
    } catch {
      return null;
    }
  }

  /** Ends one session (logout). */
  end(sessionId: string): void {
    this.deps.db.delete(admin_sessions).where(eq(admin_sessions.id, sessionId)).run();
  }

  /** Ends every session of a user except `keep` (password change, CLI reset). */
  endAllOf(userId: number, keep?: string): void {
    const cond = keep ? and(eq(admin_sessions.user_id, userId), ne(admin_sessions.id, keep)) : eq(admin_sessions.user_id, userId);
    this.deps.db.delete(admin_sessions).where(cond).run();
  }

  /** Set-Cookie value that removes the session cookie. */
  clearedCookie(): string {
    return setCookie(SESSION_COOKIE, "", "/admin", 0, this.secure);
  }

  /** The instance's HS256 key (sessions and device cookies). */
  signingKey(): Uint8Array {
    if (this.key) return this.key;
    const stored = getOrCreateSetting(this.deps.db, "session_secret", () => randomBytes(32).toString("base64url"));
    return (this.key = Buffer.from(stored, "base64url"));
  }
}

const sessionRowId = (jti: string) => createHash("sha256").update(jti).digest("hex");

/** The principal a dashboard session acts as: scope `all`, every permission, no token buckets. */
export function adminPrincipal(admin: AdminIdentity, meta: RequestMeta): Principal {
  return {
    kind: "admin",
    id: admin.id,
    label: admin.email,
    permissions: ALL_PERMISSIONS,
    scope: "all",
    channelIds: [],
    token: null,
    viaPreviousValue: false,
    get ip() {
      return meta.ip;
    },
    get userAgent() {
      return meta.userAgent;
    },
  };
}

/** Whether browsers reach the dashboard over HTTPS, so its cookies get `Secure`. */
export const servedOverHttps = (deps: Deps) => !!deps.config.tlsCert || deps.config.publicUrl.startsWith("https:");

/** Set-Cookie value for a dashboard cookie: never readable by scripts, never sent cross-site. */
export const setCookie = (name: string, value: string, path: string, maxAgeSeconds: number, secure: boolean) =>
  `${name}=${value}; Path=${path}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`;

export function readCookie(header: string | null, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

/** Deletes sessions whose JWT has expired (they can no longer authenticate anyway). */
export function pruneExpiredSessions(db: Db, now: number): number {
  return changes(db.delete(admin_sessions).where(lte(admin_sessions.expires_at, now)).run());
}

/** Expired dashboard sessions are deleted (their cookie no longer works anyway). */
export const sessionRetentionJob = (db: Db) => retentionJob("admin_sessions.retention", (now) => pruneExpiredSessions(db, now));
