/**
 * Client IP, HTTPS and CIDR rules (docs/api-reference.md §1.1, §2.1) on ipaddr.js. IPv4-mapped IPv6 peers
 * (::ffff:a.b.c.d) are treated as their IPv4 address everywhere.
 */
import ipaddr from "ipaddr.js";

export type ParsedCidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * Parses an IP or CIDR; a bare IP becomes /32 or /128. Returns null when invalid, including an
 * IPv4-mapped range shorter than /96 (it is no IPv4 range, and peers are matched as IPv4).
 */
export function parseCidr(value: string): ParsedCidr | null {
  const text = value.trim();
  // ipaddr also reads inet_aton forms ("010.0.0.1" as octal 8.0.0.1, "127.1", "0x7f.0.0.1"): a
  // zero-padded address would silently become another host, so IPv4 must be four plain decimals.
  const ipv4 = text.split("/")[0]!;
  if (!ipv4.includes(":") && !DOTTED_QUAD.test(ipv4)) return null;
  try {
    if (text.includes("/")) {
      const [addr, bits] = ipaddr.parseCIDR(text);
      const unmapped = unmap(addr);
      if (unmapped === addr) return [addr, bits];
      return bits < 96 ? null : [unmapped, bits - 96];
    }
    const addr = unmap(ipaddr.parse(text));
    return [addr, addr.kind() === "ipv4" ? 32 : 128];
  } catch {
    return null;
  }
}

/** Canonical text of a CIDR (network address + prefix), e.g. "203.0.113.7" → "203.0.113.7/32". */
export function formatCidr([addr, bits]: ParsedCidr): string {
  const network =
    addr.kind() === "ipv4"
      ? ipaddr.IPv4.networkAddressFromCIDR(`${addr.toString()}/${bits}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${bits}`);
  return `${network.toString()}/${bits}`;
}

function unmap(addr: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr;
}

export function parseIp(value: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  try {
    return unmap(ipaddr.parse(value));
  } catch {
    return null;
  }
}

/** Normalised textual IP ("::ffff:127.0.0.1" → "127.0.0.1"); the input when unparseable. */
export const normalizeIp = (value: string): string => parseIp(value)?.toString() ?? value;

export function ipInCidrs(ip: string, cidrs: readonly ParsedCidr[]): boolean {
  const addr = parseIp(ip);
  if (!addr) return false;
  return cidrs.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net as never, bits));
}

/** Is `inner` entirely inside `outer`? */
export function cidrWithin(inner: ParsedCidr, outer: ParsedCidr): boolean {
  return inner[0].kind() === outer[0].kind() && inner[1] >= outer[1] && inner[0].match(outer[0] as never, outer[1]);
}

export const isLoopback = (ip: string): boolean => parseIp(ip)?.range() === "loopback";

/**
 * The client IP: the peer, or — when the peer is a trusted proxy — the right-most X-Forwarded-For
 * hop that is not itself a trusted proxy.
 */
export function clientIp(peer: string, forwardedFor: string | null, trusted: readonly ParsedCidr[]): string {
  if (!forwardedFor || trusted.length === 0 || !ipInCidrs(peer, trusted)) return peer;
  const hops = forwardedFor.split(",").map((h) => h.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeIp(hops[i]);
    if (!ipInCidrs(hop, trusted)) return hop;
  }
  return hops.length ? normalizeIp(hops[0]) : peer;
}
