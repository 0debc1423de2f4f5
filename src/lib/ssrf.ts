/**
 * The SSRF guard of outbound HTTP requests: webhooks and the sequence step `make_http_request`
 * (docs/api-reference.md §11.2). A URL is checked at create (scheme, userinfo, literal IPs,
 * `localhost`) and its host is resolved again before every attempt; the attempt then
 * connects to the very address that was checked (webhooks/attempt.ts hands it to the socket), so a DNS answer
 * that changes between check and connect cannot reach a refused range.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import ipaddr from "ipaddr.js";

export interface AddressPolicy {
  /** MAILROOM_WEBHOOK_ALLOW_PRIVATE: RFC 1918, fc00::/7 and CGNAT are allowed (LANs, tests). */
  allowPrivate: boolean;
  /** MAILROOM_ALLOW_HTTP_WEBHOOKS: loopback is allowed, and `http://` to it. */
  allowLoopback: boolean;
}

/** The instance's policy from its settings (structurally: lib/ does not read the config module). */
export const addressPolicyOf = (c: { webhookAllowPrivate: boolean; allowHttpWebhooks: boolean }): AddressPolicy => ({
  allowPrivate: c.webhookAllowPrivate,
  allowLoopback: c.allowHttpWebhooks,
});

/** Resolves a host name to its addresses (node:dns; tests pass a fake at this edge). */
export type Lookup = (host: string) => Promise<{ address: string; family: number }[]>;
export const systemLookup: Lookup = (host) => dnsLookup(host, { all: true, verbatim: true });

/** Cloud metadata services: refused whatever the settings. */
const METADATA = new Set(["169.254.169.254", "fd00:ec2::254"]);
const PRIVATE_RANGES = new Set(["private", "uniqueLocal", "carrierGradeNat"]);

/** Whether an attempt may connect to `ip`. */
export function addressAllowed(ip: string, policy: AddressPolicy): boolean {
  if (!ipaddr.isValid(ip)) return false;
  let addr = ipaddr.parse(ip);
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
  if (METADATA.has(addr.toString())) return false;
  const range = addr.range();
  if (range === "unicast") return true;
  if (range === "loopback") return policy.allowLoopback;
  return PRIVATE_RANGES.has(range) && policy.allowPrivate;
}

const isLoopbackName = (host: string) => host === "localhost" || host.endsWith(".localhost");
const bareHost = (url: URL) => url.hostname.replace(/^\[|\]$/g, "");

/** Why `raw` cannot be a webhook URL (null = acceptable); DNS names are checked per attempt. */
export function urlProblem(raw: string, policy: AddressPolicy): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "is not a valid URL";
  }
  if (url.username || url.password) return "must not contain a user name or password";
  const host = bareHost(url);
  const literal = ipaddr.isValid(host);
  const loopback = isLoopbackName(host) || (literal && ipaddr.parse(host).range() === "loopback");
  if (url.protocol === "http:") {
    if (!(policy.allowLoopback && loopback)) return "must use https";
  } else if (url.protocol !== "https:") return "must use https";
  if (isLoopbackName(host) && !policy.allowLoopback) return "must not point to a loopback, private or reserved address";
  if (literal && !addressAllowed(host, policy)) return "must not point to a loopback, private or reserved address";
  return null;
}

/** The address an attempt to `url` connects to, or null when every resolved address is refused. */
export async function resolveAllowed(url: URL, policy: AddressPolicy, lookup: Lookup): Promise<{ address: string; family: number } | null> {
  const host = bareHost(url);
  const found = ipaddr.isValid(host) ? [{ address: host, family: ipaddr.parse(host).kind() === "ipv6" ? 6 : 4 }] : await lookup(host);
  // Any refused address refuses the host: a name that also resolves inward is not trusted.
  if (found.length === 0 || found.some((a) => !addressAllowed(a.address, policy))) return null;
  if (url.protocol === "http:" && ipaddr.parse(found[0].address).range() !== "loopback") return null;
  return found[0];
}

/** What `checkedFetch` got: the answer, or why there is none (`dns_failed`, `blocked_address`, `timeout`, `connection_failed…`). */
export type CheckedAnswer = { response: Response; error: null } | { response: null; error: string };

/**
 * One request to `url` through the guard: the host is resolved and checked now, and the request
 * goes to the checked address itself; the Host header and TLS (SNI and the name the certificate is
 * verified against) keep the URL's name. Kept-alive connections are pooled by that address, so a
 * reused one was opened to an allowed address too. Redirects are not followed; `timeoutMs` bounds it all.
 */
export async function checkedFetch(
  url: URL,
  init: { method: string; headers: Record<string, string>; body?: string },
  policy: AddressPolicy,
  lookup: Lookup,
  timeoutMs: number,
): Promise<CheckedAnswer> {
  let target: { address: string; family: number } | null;
  try {
    target = await resolveAllowed(url, policy, lookup);
  } catch {
    return { response: null, error: "dns_failed" };
  }
  if (!target) return { response: null, error: "blocked_address" };
  const connectTo = new URL(url);
  connectTo.hostname = target.family === 6 ? `[${target.address}]` : target.address;
  try {
    const response = await fetch(connectTo, {
      ...init,
      headers: { ...init.headers, host: url.host },
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
      tls: { serverName: url.hostname },
    });
    return { response, error: null };
  } catch (e) {
    const err = e as { name?: string; code?: string };
    if (err.name === "TimeoutError" || err.name === "AbortError") return { response: null, error: "timeout" };
    return { response: null, error: `connection_failed${err.code ? `: ${err.code}` : ""}` };
  }
}
