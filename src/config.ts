/**
 * Configuration: flags over MAILROOM_* env over defaults. Pure, validated, frozen; passed down in deps,
 * never imported as a global. Every variable of docs/api-reference.md is read here (docs/operations.md lists them).
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import ipaddr from "ipaddr.js";
import { LOGIN_PATTERN, MIN_ADMIN_PASSWORD } from "@/lib/credentials";
import { isEmail } from "@/lib/email";

type Kind = "string" | "port" | "int" | "bool" | "url" | "cidrs" | "path";

interface Setting {
  env: string;
  kind: Kind;
  default: string | number | boolean | undefined;
  help: string;
  secret?: boolean;
  min?: number;
  max?: number;
  /** Extra rule for a string setting: the reason it is invalid, or null. */
  check?: (value: string) => string | null;
}

const isListenHost = (v: string) => ipaddr.isValid(v) || /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?$/.test(v);
const listenHost = (v: string) => (isListenHost(v) ? null : "must be an IP address or a host name");
const isDomain = (v: string) => v.length <= 253 && /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i.test(v);

/** The single table of settings: key → env var, flag (kebab-case of the key), kind, default. */
export const SETTINGS = {
  host: { env: "MAILROOM_HOST", kind: "string", default: "0.0.0.0", help: "HTTP listen address", check: listenHost },
  port: { env: "MAILROOM_PORT", kind: "port", default: 3000, help: "HTTP listen port (0 = ephemeral)" },
  dataDir: { env: "MAILROOM_DATA_DIR", kind: "path", default: "./data", help: "directory of the SQLite database and keys" },
  publicUrl: { env: "MAILROOM_PUBLIC_URL", kind: "url", default: "http://localhost:3000", help: "absolute base URL for links, status_url and the dashboard's Origin check (default follows the port: http://localhost:PORT)" },
  tlsCert: { env: "MAILROOM_TLS_CERT", kind: "path", default: undefined, help: "PEM certificate file (HTTPS and SMTP STARTTLS)" },
  tlsKey: { env: "MAILROOM_TLS_KEY", kind: "path", default: undefined, help: "PEM private key file" },
  requireHttps: { env: "MAILROOM_REQUIRE_HTTPS", kind: "bool", default: undefined, help: "refuse plain-HTTP API calls from non-loopback peers (default: on with TLS or an https public URL)" },
  trustedProxies: { env: "MAILROOM_TRUSTED_PROXIES", kind: "cidrs", default: "", help: "comma-separated CIDRs whose X-Forwarded-* headers are trusted" },
  adminEmail: {
    env: "MAILROOM_ADMIN_EMAIL", kind: "string", default: "admin", help: "first-run admin login (no spaces, ≤ 254 characters)",
    check: (v) => (LOGIN_PATTERN.test(v) ? null : "must be at most 254 characters without spaces"),
  },
  adminPassword: {
    env: "MAILROOM_ADMIN_PASSWORD", kind: "string", default: undefined, help: "first-run admin password, ≥ 12 characters (else generated and printed once)", secret: true,
    check: (v) => (v.length >= MIN_ADMIN_PASSWORD ? null : `must be at least ${MIN_ADMIN_PASSWORD} characters`),
  },
  senderEmail: {
    env: "MAILROOM_SENDER_EMAIL", kind: "string", default: undefined, help: "sender_email of the first-run default channel (else noreply@<public host>)",
    check: (v) => (isEmail(v) ? null : "must be an email address"),
  },
  rateLimitGeneral: { env: "MAILROOM_RATE_LIMIT_GENERAL", kind: "int", default: 120, min: 0, max: 100_000_000, help: "general requests per minute per token (0 = unlimited)" },
  rateLimitSend: { env: "MAILROOM_RATE_LIMIT_SEND", kind: "int", default: 600, min: 0, max: 100_000_000, help: "send requests per minute per token (0 = unlimited)" },
  maxBodyBytes: { env: "MAILROOM_MAX_BODY_BYTES", kind: "int", default: 2 * 1024 * 1024, min: 1024, max: 100 * 1024 * 1024, help: "JSON body limit in bytes (bulk routes: 10 MiB)" },
  smtpHost: { env: "MAILROOM_SMTP_HOST", kind: "string", default: "0.0.0.0", help: "SMTP submission listen address", check: listenHost },
  smtpPort: { env: "MAILROOM_SMTP_PORT", kind: "port", default: 2587, help: "SMTP submission port (0 = off)" },
  bounceDomain: {
    env: "MAILROOM_BOUNCE_DOMAIN", kind: "string", default: undefined, help: "domain of the VERP return paths (bounces+<signed ref>@domain); its MX points at this host (else: no VERP)",
    check: (v) => (isDomain(v) ? null : "must be a domain name"),
  },
  inboundHost: { env: "MAILROOM_INBOUND_HOST", kind: "string", default: "0.0.0.0", help: "inbound bounce listener address", check: listenHost },
  inboundPort: { env: "MAILROOM_INBOUND_PORT", kind: "port", default: undefined, help: "inbound bounce listener port, 25 in production (unset = off; 0 = ephemeral); needs MAILROOM_BOUNCE_DOMAIN" },
  capture: { env: "MAILROOM_CAPTURE", kind: "bool", default: true, help: "local capture delivery for channels without servers" },
  captureAll: { env: "MAILROOM_CAPTURE_ALL", kind: "bool", default: false, help: "capture every message instead of delivering (development)" },
  capturePort: { env: "MAILROOM_CAPTURE_PORT", kind: "port", default: 2525, help: "loopback port of the local capture SMTP server (0 = ephemeral)" },
  captureMax: { env: "MAILROOM_CAPTURE_MAX", kind: "int", default: 10_000, min: 1, max: 10_000_000, help: "captured messages kept" },
  captureRetentionDays: { env: "MAILROOM_CAPTURE_RETENTION_DAYS", kind: "int", default: 7, min: 1, max: 3650, help: "days captured messages are kept" },
  linkSecret: { env: "MAILROOM_LINK_SECRET", kind: "string", default: undefined, help: "HMAC secret for tracking/unsubscribe links (else generated and stored)", secret: true },
  eventRetentionDays: { env: "MAILROOM_EVENT_RETENTION_DAYS", kind: "int", default: 90, min: 1, max: 3650, help: "days events are kept" },
  metricsToken: {
    env: "MAILROOM_METRICS_TOKEN", kind: "string", default: undefined, help: "bearer token for GET /metrics from non-loopback clients, ≥ 16 characters (loopback needs none)", secret: true,
    check: (v) => (/^\S{16,}$/.test(v) ? null : "must be at least 16 characters without spaces"),
  },
  allowHttpWebhooks: { env: "MAILROOM_ALLOW_HTTP_WEBHOOKS", kind: "bool", default: false, help: "allow http:// webhook URLs to loopback" },
  webhookAllowPrivate: { env: "MAILROOM_WEBHOOK_ALLOW_PRIVATE", kind: "bool", default: false, help: "allow webhooks to private address ranges" },
  shutdownTimeoutMs: { env: "MAILROOM_SHUTDOWN_TIMEOUT_MS", kind: "int", default: 10_000, min: 0, max: 600_000, help: "how long shutdown waits for in-flight work" },
} as const satisfies Record<string, Setting>;

export type SettingKey = keyof typeof SETTINGS;

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  publicUrl: string;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  requireHttps: boolean;
  trustedProxies: readonly string[];
  adminEmail: string;
  adminPassword: string | undefined;
  senderEmail: string | undefined;
  rateLimitGeneral: number;
  rateLimitSend: number;
  maxBodyBytes: number;
  smtpHost: string;
  smtpPort: number;
  bounceDomain: string | undefined;
  inboundHost: string;
  inboundPort: number | undefined;
  capture: boolean;
  captureAll: boolean;
  capturePort: number;
  captureMax: number;
  captureRetentionDays: number;
  linkSecret: string | undefined;
  eventRetentionDays: number;
  metricsToken: string | undefined;
  allowHttpWebhooks: boolean;
  webhookAllowPrivate: boolean;
  shutdownTimeoutMs: number;
}

/** Thrown for invalid configuration; the CLI prints its message on one line and exits 2. */
export class ConfigError extends Error {}

export const flagName = (key: string) => key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

/** parseArgs options for every setting (all take a value). */
export const CONFIG_FLAGS = Object.fromEntries(
  Object.keys(SETTINGS).map((key) => [flagName(key), { type: "string" as const }]),
);

function parseValue(key: string, s: Setting, raw: string, source: string): unknown {
  const bad = (why: string) => new ConfigError(`invalid ${source}=${s.secret ? "[redacted]" : JSON.stringify(raw)}: ${why}`);
  switch (s.kind) {
    case "string": {
      if (raw.trim() === "") throw bad("must not be empty");
      const why = s.check?.(raw);
      if (why) throw bad(why);
      return raw;
    }
    case "path":
      if (raw.trim() === "") throw bad("must not be empty");
      return resolve(raw);
    case "port":
    case "int": {
      if (!/^\d+$/.test(raw.trim())) throw bad("must be a whole number");
      const n = Number(raw);
      const [min, max] = s.kind === "port" ? [0, 65535] : [s.min ?? 0, s.max ?? Number.MAX_SAFE_INTEGER];
      if (n < min || n > max) throw bad(`must be between ${min} and ${max}`);
      return n;
    }
    case "bool": {
      const v = raw.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(v)) return true;
      if (["0", "false", "no", "off"].includes(v)) return false;
      throw bad("must be true/false/1/0");
    }
    case "url": {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw bad("must be an absolute http(s) URL");
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") throw bad("must be an absolute http(s) URL");
      return url.origin + url.pathname.replace(/\/+$/, "");
    }
    case "cidrs": {
      const list = raw.split(",").map((c) => c.trim()).filter(Boolean);
      for (const c of list) if (!isCidr(c)) throw bad(`${JSON.stringify(c)} is not an IP or CIDR`);
      return list;
    }
  }
  void key;
}

function isCidr(value: string): boolean {
  try {
    if (value.includes("/")) ipaddr.parseCIDR(value);
    else ipaddr.parse(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Builds the frozen Config from env and argv (config flags only, e.g. `--port 3001`).
 * @throws ConfigError naming the variable or flag and why it is invalid.
 */
export function loadConfig(env: Record<string, string | undefined>, argv: readonly string[] = []): Readonly<Config> {
  let flags: Record<string, string | undefined>;
  try {
    flags = parseArgs({ args: [...argv], options: CONFIG_FLAGS, strict: true, allowPositionals: false }).values as Record<string, string>;
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(SETTINGS) as [string, Setting][]) {
    const flag = flags[flagName(key)];
    const fromEnv = env[s.env];
    if (flag !== undefined) out[key] = parseValue(key, s, flag, `--${flagName(key)}`);
    else if (fromEnv !== undefined && fromEnv !== "") out[key] = parseValue(key, s, fromEnv, s.env);
    else out[key] = s.default === undefined ? undefined : s.kind === "path" ? resolve(String(s.default)) : s.kind === "cidrs" ? [] : s.default;
  }
  if ((out.tlsCert === undefined) !== (out.tlsKey === undefined)) {
    throw new ConfigError("MAILROOM_TLS_CERT and MAILROOM_TLS_KEY must be set together");
  }
  if (out.inboundPort !== undefined && out.bounceDomain === undefined) {
    throw new ConfigError("MAILROOM_INBOUND_PORT needs MAILROOM_BOUNCE_DOMAIN (the listener accepts only its signed bounce addresses)");
  }
  if (out.bounceDomain !== undefined) out.bounceDomain = String(out.bounceDomain).toLowerCase();
  // Without an explicit public URL, links and the dashboard's Origin check follow the port served.
  const publicUrlGiven = flags[flagName("publicUrl")] !== undefined || !!env[SETTINGS.publicUrl.env];
  if (!publicUrlGiven && out.port !== 0 && out.port !== 3000) out.publicUrl = `${out.tlsCert ? "https" : "http"}://localhost:${out.port}`;
  if (out.requireHttps === undefined) {
    out.requireHttps = out.tlsCert !== undefined || String(out.publicUrl).startsWith("https:");
  }
  return Object.freeze(out) as unknown as Readonly<Config>;
}

/** The config with secrets replaced, for the start-up log line. */
export function redactedConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(SETTINGS) as [keyof Config, Setting][]) {
    const v = config[key];
    out[key] = s.secret && v !== undefined ? "[redacted]" : v;
  }
  return out;
}
