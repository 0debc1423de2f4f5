/**
 * Device cookies (OWASP "Slow Down Online Guessing Attacks with Device Cookies"): a successful
 * login gives the browser a signed `mailroom_device` cookie naming that login. A later attempt for
 * the same login that carries it comes from a known browser, so it is exempt from the per-login
 * lockout that failures from anywhere else trigger (users.ts counts its failures per cookie instead).
 * The cookie is an HS256 JWT with the session key, valid for a year, sent only to the login route.
 */
import { randomBytes } from "node:crypto";
import type { Deps } from "@/deps";
import { jwtSign, jwtVerifier, readCookie, servedOverHttps, setCookie, type AdminSessions } from "./session";

export const DEVICE_COOKIE = "mailroom_device";
const DEVICE_TTL_MS = 365 * 24 * 60 * 60 * 1000;
const LOGIN_PATH = "/admin/api/login";
const ISSUER = "mailroom";
/** A session JWT has no audience, so it never passes as a device cookie (a device JWT names no session row). */
const AUDIENCE = "mailroom-device";

export class DeviceCookies {
  private readonly secure: boolean;

  constructor(
    private readonly deps: Deps,
    private readonly sessions: AdminSessions,
  ) {
    this.secure = servedOverHttps(deps);
  }

  /** A new device cookie for `login` (normalised); returns the Set-Cookie value. */
  async issue(login: string): Promise<string> {
    const now = this.deps.clock.now();
    const { SignJWT } = await jwtSign();
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(login)
      .setJti(randomBytes(18).toString("base64url"))
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor((now + DEVICE_TTL_MS) / 1000))
      .sign(this.sessions.signingKey());
    return setCookie(DEVICE_COOKIE, jwt, LOGIN_PATH, DEVICE_TTL_MS / 1000, this.secure);
  }

  /** The id of the request's device cookie when it is genuine, unexpired and names `login`; else null. */
  async verify(cookieHeader: string | null, login: string): Promise<string | null> {
    const jwt = readCookie(cookieHeader, DEVICE_COOKIE);
    if (!jwt) return null;
    const { jwtVerify } = await jwtVerifier();
    try {
      const { payload } = await jwtVerify(jwt, this.sessions.signingKey(), {
        algorithms: ["HS256"],
        issuer: ISSUER,
        audience: AUDIENCE,
        subject: login,
        currentDate: new Date(this.deps.clock.now()),
      });
      return payload.jti ?? null;
    } catch {
      return null;
    }
  }
}
