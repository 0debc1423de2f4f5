import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig, redactedConfig } from "@/config";

describe("happy", () => {
  test("defaults", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ host: "0.0.0.0", port: 3000, publicUrl: "http://localhost:3000", rateLimitGeneral: 120, rateLimitSend: 600, smtpPort: 2587, capturePort: 2525, requireHttps: false, maxBodyBytes: 2097152 });
    expect(c.dataDir).toEndWith("/data");
    expect(Object.isFrozen(c)).toBe(true);
  });

  test("the default public URL follows the port; a given one is kept", () => {
    expect(loadConfig({}, ["--port", "8080"]).publicUrl).toBe("http://localhost:8080");
    expect(loadConfig({ MAILROOM_PORT: "8080", MAILROOM_PUBLIC_URL: "https://mail.example.com" }).publicUrl).toBe("https://mail.example.com");
    expect(loadConfig({ MAILROOM_PORT: "0" }).publicUrl).toBe("http://localhost:3000");
  });

  test("flags over env over defaults", () => {
    const c = loadConfig({ MAILROOM_PORT: "4000", MAILROOM_HOST: "127.0.0.1" }, ["--port", "5000"]);
    expect(c.port).toBe(5000);
    expect(c.host).toBe("127.0.0.1");
  });

  test("HTTPS is required by default with an https public URL", () => {
    expect(loadConfig({ MAILROOM_PUBLIC_URL: "https://mail.example.com/" }).requireHttps).toBe(true);
    expect(loadConfig({ MAILROOM_PUBLIC_URL: "https://mail.example.com/", MAILROOM_REQUIRE_HTTPS: "0" }).requireHttps).toBe(false);
  });

  test("secrets are redacted for the start-up log", () => {
    const c = loadConfig({ MAILROOM_ADMIN_PASSWORD: "hunter2hunter2", MAILROOM_LINK_SECRET: "s3cret", MAILROOM_METRICS_TOKEN: "scrape-me-0123456789" });
    const shown = JSON.stringify(redactedConfig(c));
    expect(shown).not.toContain("hunter2hunter2");
    expect(shown).not.toContain("s3cret");
    expect(shown).not.toContain("scrape-me");
    expect(shown).toContain("[redacted]");
  });
});

describe("errors", () => {
  test.each([
    [{ MAILROOM_PORT: "70000" }, [], "invalid MAILROOM_PORT=\"70000\": must be between 0 and 65535"],
    [{ MAILROOM_PORT: "abc" }, [], "invalid MAILROOM_PORT=\"abc\": must be a whole number"],
    [{ MAILROOM_RATE_LIMIT_GENERAL: "-1" }, [], "invalid MAILROOM_RATE_LIMIT_GENERAL=\"-1\": must be a whole number"],
    [{ MAILROOM_CAPTURE: "maybe" }, [], "invalid MAILROOM_CAPTURE=\"maybe\": must be true/false/1/0"],
    [{ MAILROOM_PUBLIC_URL: "ftp://x" }, [], "invalid MAILROOM_PUBLIC_URL=\"ftp://x\": must be an absolute http(s) URL"],
    [{ MAILROOM_TRUSTED_PROXIES: "10.0.0.0/8,nope" }, [], "invalid MAILROOM_TRUSTED_PROXIES=\"10.0.0.0/8,nope\": \"nope\" is not an IP or CIDR"],
    [{ MAILROOM_TLS_CERT: "/x.pem" }, [], "MAILROOM_TLS_CERT and MAILROOM_TLS_KEY must be set together"],
    [{}, ["--bogus", "1"], "Unknown option '--bogus'"],
    [{ MAILROOM_ADMIN_PASSWORD: " " }, [], "invalid MAILROOM_ADMIN_PASSWORD=[redacted]: must not be empty"],
    [{ MAILROOM_ADMIN_PASSWORD: "short" }, [], "invalid MAILROOM_ADMIN_PASSWORD=[redacted]: must be at least 12 characters"],
    [{ MAILROOM_METRICS_TOKEN: "too-short" }, [], "invalid MAILROOM_METRICS_TOKEN=[redacted]: must be at least 16 characters without spaces"],
    [{ MAILROOM_METRICS_TOKEN: "with a space 0123456789" }, [], "invalid MAILROOM_METRICS_TOKEN=[redacted]: must be at least 16 characters without spaces"],
    [{ MAILROOM_ADMIN_EMAIL: "a b" }, [], "invalid MAILROOM_ADMIN_EMAIL=\"a b\": must be at most 254 characters without spaces"],
    [{ MAILROOM_SENDER_EMAIL: "not an email" }, [], "invalid MAILROOM_SENDER_EMAIL=\"not an email\": must be an email address"],
    [{}, ["--host", "not_a_host"], "invalid --host=\"not_a_host\": must be an IP address or a host name"],
    [{ MAILROOM_SMTP_HOST: "bad host" }, [], "invalid MAILROOM_SMTP_HOST=\"bad host\": must be an IP address or a host name"],
  ] as const)("%j %j → ConfigError", (env, argv, message) => {
    expect(() => loadConfig(env, argv)).toThrow(ConfigError);
    expect(() => loadConfig(env, argv)).toThrow(message);
  });
});
