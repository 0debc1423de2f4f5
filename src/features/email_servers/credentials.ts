/**
 * An email server's credentials (docs/api-reference.md §9): write-only fields stored encrypted and
 * returned masked — the SMTP password and the keys that prove a provider's event webhook post is
 * genuine (docs/provider-webhooks.md) — plus the webhook settings that are not secret (Postmark
 * user name, SNS topic ARN) and the endpoint URL of each provider the server answers for.
 */
import { createPublicKey } from "node:crypto";
import { t } from "elysia";
import type { EmailServer } from "@/db/schema";
import type { Deps } from "@/deps";
import { f, result, type Result } from "@/input/fields";
import { Nullable } from "@/input/schemas";
import { decryptSecret } from "@/lib/secrets";

export const PROVIDERS = ["ses", "postmark", "sendgrid", "mailgun"] as const;
export type Provider = (typeof PROVIDERS)[number];

/** The masked form the API returns for a stored credential. */
export const MASKED = "••••••••" as const;
/** A value that is an echo of a redacted credential (mirrors the SDK guard, §9). */
export const REDACTED_ECHO = /^(?:•{8}|.{0,4}•+.{0,4})$/;

/** A write-only credential: an echo of the masked value (an SDK sending back what it read) keeps the stored one (§9). */
export function writeOnly(max: number, check: (s: string) => Result<string> = result.ok) {
  const text = f.string({ max, trim: false });
  return f.custom(
    (v, at) => {
      if (typeof v === "string" && REDACTED_ECHO.test(v)) return { ignored: "is a redacted value and was ignored" };
      const read = text.read(v, at);
      return "value" in read && read.value !== "" ? check(read.value) : read;
    },
    { nullable: true, schema: { type: "string", maxLength: max, description: "Write-only; read back masked" } },
  );
}

/** SendGrid's verification key: base64 DER (SubjectPublicKeyInfo) of an ECDSA P-256 key, as its settings page shows it. */
function p256PublicKey(s: string): Result<string> {
  const der = s.replace(/-----(BEGIN|END) PUBLIC KEY-----|\s/g, "");
  try {
    const key = createPublicKey({ key: Buffer.from(der, "base64"), format: "der", type: "spki" });
    if (key.asymmetricKeyDetails?.namedCurve === "prime256v1") return result.ok(der);
  } catch {}
  return result.err("is not an ECDSA P-256 public key (base64 DER, as SendGrid shows it)");
}

const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;

export const WebhookKeyFields = {
  webhook_signing_key: writeOnly(1024),
  webhook_public_key: writeOnly(1024, p256PublicKey),
  webhook_username: f.string({ max: 255, nullable: true }),
  webhook_password: writeOnly(1024),
  sns_topic_arn: f.string({ max: 400, nullable: true, pattern: TOPIC_ARN }),
};

/** Each write-only field and the column holding it encrypted. */
export const SECRET_COLUMNS = {
  smtp_password: "smtp_password_enc",
  webhook_signing_key: "webhook_signing_key_enc",
  webhook_public_key: "webhook_public_key_enc",
  webhook_password: "webhook_password_enc",
} as const;

const Masked = Nullable(t.Literal(MASKED));

export const WebhookKeySchema = {
  webhook_signing_key: Masked,
  webhook_public_key: Masked,
  webhook_username: Nullable(t.String()),
  webhook_password: Masked,
  sns_topic_arn: Nullable(t.String()),
  provider_webhook_urls: t.Record(t.String(), t.String(), { description: "Provider → the URL to give it as the event webhook (docs/provider-webhooks.md)" }),
};

const VENDOR_PROVIDER: Record<string, Provider> = { aws_ses: "ses", postmark: "postmark", sendgrid: "sendgrid", mailgun: "mailgun" };

/** Whether `/hooks/providers/<id>/<provider>` exists: the server's vendor is the provider, or the provider's key is configured. */
export function answersFor(s: EmailServer, provider: Provider): boolean {
  if (VENDOR_PROVIDER[s.vendor] === provider) return true;
  const configured = { ses: s.sns_topic_arn, postmark: s.webhook_password_enc, sendgrid: s.webhook_public_key_enc, mailgun: s.webhook_signing_key_enc };
  return configured[provider] !== null;
}

export function encodeWebhookKeys(s: EmailServer, publicUrl: string) {
  return {
    webhook_signing_key: s.webhook_signing_key_enc ? MASKED : null,
    webhook_public_key: s.webhook_public_key_enc ? MASKED : null,
    webhook_username: s.webhook_username,
    webhook_password: s.webhook_password_enc ? MASKED : null,
    sns_topic_arn: s.sns_topic_arn,
    provider_webhook_urls: Object.fromEntries(PROVIDERS.filter((p) => answersFor(s, p)).map((p) => [p, `${publicUrl}/hooks/providers/${s.id}/${p}`])),
  };
}

export interface WebhookKeys {
  signingKey: string | null;
  publicKey: string | null;
  username: string | null;
  password: string | null;
  snsTopicArn: string | null;
}

/** The server's webhook keys in clear. A key this data dir cannot decrypt counts as absent (every post is then refused). */
export function webhookKeys(deps: Deps, s: EmailServer): WebhookKeys {
  const open = (stored: string | null) => {
    if (!stored) return null;
    try {
      return decryptSecret(deps.config.dataDir, stored);
    } catch (err) {
      deps.log.error("email_server.webhook_key_unreadable", { email_server_id: s.id, error: (err as Error).message });
      return null;
    }
  };
  return {
    signingKey: open(s.webhook_signing_key_enc),
    publicKey: open(s.webhook_public_key_enc),
    username: s.webhook_username,
    password: open(s.webhook_password_enc),
    snsTopicArn: s.sns_topic_arn,
  };
}
