/**
 * Amazon SNS message verification (AWS's "Verifying the signatures of Amazon SNS messages"): the
 * canonical string of the message's fields, signed with RSA — SHA1 for SignatureVersion 1, SHA256
 * for 2 — by the certificate at SigningCertURL, which must be https on `sns.<region>.amazonaws.com`.
 * Certificates are cached by URL. A SubscriptionConfirmation is confirmed by a GET of its
 * SubscribeURL (same host rule). The host rule and the fetch are the edge tests replace.
 */
import { verify, X509Certificate, type KeyObject } from "node:crypto";
import { AppError } from "@/lib/errors";
import { checkFresh, invalidSignature, isObj, str, type Obj } from "./payload";

/** Where certificates and confirmations may be fetched from, and how. */
export interface SnsEdge {
  certHost: RegExp;
  fetch: (url: string, init?: RequestInit) => Promise<Response>;
}
export const AWS_SNS: SnsEdge = { certHost: /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/, fetch: (url, init) => fetch(url, init) };

/**
 * SNS signs its own Timestamp (the publish time) and re-sends the same message on retry, for up to
 * an hour under a custom delivery policy: older messages are refused, replays by MessageId anyway.
 */
const MAX_AGE_MS = 3600_000;
const FETCH_TIMEOUT_MS = 5000;
const MAX_CERT_BYTES = 16 * 1024;
const MAX_CACHED = 50;

const FIELDS = {
  Notification: ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
  SubscriptionConfirmation: ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"],
  UnsubscribeConfirmation: ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"],
} as const;
export type SnsType = keyof typeof FIELDS;

export interface SnsMessage {
  type: SnsType;
  messageId: string;
  topicArn: string;
  message: string;
  subscribeUrl: string | null;
}

/** `url` when it is https on an allowed SNS host. */
function snsUrl(edge: SnsEdge, value: string | null): URL | null {
  if (!value) return null;
  try {
    const url = new URL(value);
    return url.protocol === "https:" && edge.certHost.test(url.hostname) ? url : null;
  } catch {
    return null;
  }
}

/** Signing certificates by URL (in-flight fetches shared; failures not kept). */
export class SnsCertificates {
  private readonly keys = new Map<string, Promise<KeyObject>>();

  constructor(private readonly edge: () => SnsEdge) {}

  key(url: URL): Promise<KeyObject> {
    let hit = this.keys.get(url.href);
    if (!hit) {
      if (this.keys.size >= MAX_CACHED) this.keys.delete(this.keys.keys().next().value!);
      hit = this.fetchKey(url);
      this.keys.set(url.href, hit);
      hit.catch(() => this.keys.delete(url.href));
    }
    return hit;
  }

  private async fetchKey(url: URL): Promise<KeyObject> {
    const res = await this.edge().fetch(url.href, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: "error" });
    const pem = await res.text();
    if (!res.ok || pem.length > MAX_CERT_BYTES) throw new Error(`certificate fetch answered ${res.status}`);
    return new X509Certificate(pem).publicKey;
  }

  /**
   * A verified SNS message. @throws 401 when a field is missing, the certificate URL is not an SNS
   * one, the signature does not match or the message is over an hour old.
   */
  async verify(body: unknown, now: number): Promise<SnsMessage> {
    if (!isObj(body)) throw invalidSignature();
    const type = str(body, "Type");
    const version = str(body, "SignatureVersion");
    const signature = str(body, "Signature");
    const certUrl = snsUrl(this.edge(), str(body, "SigningCertURL"));
    if (!type || !Object.hasOwn(FIELDS, type) || (version !== "1" && version !== "2") || !signature || !certUrl) throw invalidSignature();
    const canonical = canonicalString(body, type as SnsType);
    let key: KeyObject;
    try {
      key = await this.key(certUrl);
    } catch (err) {
      throw new AppError("unavailable", "SNS signing certificate unavailable", { message: (err as Error).message });
    }
    let valid = false;
    try {
      valid = verify(version === "1" ? "sha1" : "sha256", Buffer.from(canonical, "utf8"), key, Buffer.from(signature, "base64"));
    } catch {}
    if (!valid) throw invalidSignature();
    checkFresh(Date.parse(str(body, "Timestamp")!), now, MAX_AGE_MS);
    return { type: type as SnsType, messageId: str(body, "MessageId")!, topicArn: str(body, "TopicArn")!, message: str(body, "Message")!, subscribeUrl: str(body, "SubscribeURL") };
  }

  /** Confirms a subscription by a GET of its SubscribeURL. @throws 401 not an SNS URL; 503 when AWS does not answer 2xx. */
  async confirm(message: SnsMessage): Promise<void> {
    const url = snsUrl(this.edge(), message.subscribeUrl);
    if (!url) throw invalidSignature();
    const res = await this.edge()
      .fetch(url.href, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: "error" })
      .catch((err: Error) => ({ ok: false, status: err.message }));
    if (!res.ok) throw new AppError("unavailable", "SNS subscription confirmation failed", { message: `SubscribeURL answered ${res.status}` });
  }
}

/** "Name\nvalue\n" for each signed field present, in AWS's order. @throws 401 when a required one is missing. */
function canonicalString(body: Obj, type: SnsType): string {
  let out = "";
  for (const name of FIELDS[type]) {
    const value = str(body, name);
    if (value === null) {
      if (name === "Subject") continue;
      throw invalidSignature();
    }
    out += `${name}\n${value}\n`;
  }
  return out;
}
