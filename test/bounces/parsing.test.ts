/**
 * The small parsers under the inbound listener: report field blocks (RFC 3464/5965 format, folding,
 * bounds), typed addresses and status codes, the signed VERP return path, and the settings that
 * turn VERP and the listener on.
 */
import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "@/config";
import { addressOf, MAX_BLOCKS, parseFieldBlocks, statusCodeOf } from "@/features/bounces/report-fields";
import { messageOfReturnPath, signedReturnPath } from "@/features/bounces/verp";

describe("report field blocks", () => {
  test("blocks split on blank lines, names lower-cased, folded values joined, the first of a name wins", () => {
    const blocks = parseFieldBlocks("Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user\r\n   unknown\r\nAction: delivered\r\n");
    expect(blocks.length).toBe(2);
    expect(blocks[0]!.get("reporting-mta")).toBe("dns; mx.example.org");
    expect(Object.fromEntries(blocks[1]!)).toEqual({ "final-recipient": "rfc822; a@example.org", action: "failed", status: "5.1.1", "diagnostic-code": "smtp; 550 5.1.1 user unknown" });
  });

  test("noise lines are skipped; thousands of blocks stop at MAX_BLOCKS", () => {
    expect(parseFieldBlocks("  stray continuation\nno colon here\n: empty name\nAction: failed").map((b) => Object.fromEntries(b))).toEqual([{ action: "failed" }]);
    expect(parseFieldBlocks("Action: failed\n\n".repeat(5000)).length).toBe(MAX_BLOCKS);
  });

  test("typed addresses and status codes", () => {
    expect(addressOf("rfc822; Ada@Example.org")).toBe("Ada@Example.org");
    expect(addressOf("rfc822;<ada@example.org>")).toBe("ada@example.org");
    expect(addressOf("<ada@example.org>")).toBe("ada@example.org");
    expect(addressOf("x400; /G=ada/")).toBeNull();
    expect(addressOf(undefined)).toBeNull();
    expect(statusCodeOf("5.1.10 (RESOLVER.ADR.RecipientNotFound)")).toBe("5.1.10");
    expect(statusCodeOf("smtp; 452 4.2.2 mailbox full")).toBe("4.2.2");
    expect(statusCodeOf("failed")).toBeNull();
  });
});

describe("VERP return paths", () => {
  const secret = "s".repeat(32);
  test("round trip, any case; a wrong signature, id, domain or shape is null", () => {
    const address = signedReturnPath(secret, "bounce.example.com", 123456);
    expect(address).toMatch(/^bounces\+2n9c-[0-9a-f]{20}@bounce\.example\.com$/);
    expect(messageOfReturnPath(secret, "bounce.example.com", address)).toBe(123456);
    expect(messageOfReturnPath(secret, "Bounce.Example.com", address.toUpperCase())).toBe(123456);
    expect(messageOfReturnPath("t".repeat(32), "bounce.example.com", address)).toBeNull();
    expect(messageOfReturnPath(secret, "other.example.com", address)).toBeNull();
    expect(messageOfReturnPath(secret, "bounce.example.com", address.replace("2n9c", "2n9d"))).toBeNull();
    expect(messageOfReturnPath(secret, "bounce.example.com", "bounces@bounce.example.com")).toBeNull();
  });

  test("MAILROOM_INBOUND_PORT needs MAILROOM_BOUNCE_DOMAIN; the domain must be one", () => {
    expect(() => loadConfig({ MAILROOM_INBOUND_PORT: "25" })).toThrow(ConfigError);
    expect(() => loadConfig({ MAILROOM_BOUNCE_DOMAIN: "not a domain" })).toThrow("MAILROOM_BOUNCE_DOMAIN");
    const config = loadConfig({ MAILROOM_BOUNCE_DOMAIN: "Bounce.Example.com", MAILROOM_INBOUND_PORT: "25" });
    expect([config.bounceDomain, config.inboundPort, config.inboundHost]).toEqual(["bounce.example.com", 25, "0.0.0.0"]);
    expect(loadConfig({}).inboundPort).toBeUndefined();
  });
});
