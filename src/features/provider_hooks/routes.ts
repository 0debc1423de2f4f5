/**
 * `POST /hooks/providers/:server_id/:provider` (docs/provider-webhooks.md): the public endpoint an
 * email provider posts its bounce and complaint events to, no token. The server must exist and
 * answer for the provider (its vendor, or that provider's key configured), else 404. The post is
 * verified the provider's way before anything is read from it: 401 `{"error":"Invalid signature"}`
 * and nothing recorded when it fails. Limited per IP like the other public endpoints.
 */
import { eq } from "drizzle-orm";
import { Elysia } from "elysia";
import { RateLimiter } from "@/auth/rate-limiter";
import { email_servers, type EmailServer } from "@/db/schema";
import type { Deps } from "@/deps";
import { answersFor, PROVIDERS, webhookKeys, type Provider, type WebhookKeys } from "@/features/email_servers/credentials";
import { requestMeta } from "@/http/request";
import { AppError } from "@/lib/errors";
import { readMailgun } from "./mailgun";
import type { HookPayload, HookRequest } from "./payload";
import { readPostmark } from "./postmark";
import { readSendgrid } from "./sendgrid";
import { readSes } from "./ses";
import { AWS_SNS, SnsCertificates } from "./sns";
import { recordProviderEvents } from "./service";

/** Posts per IP per minute: providers send batches, retries and bursts after an outage. */
const POSTS_PER_MINUTE = 600;
/** SendGrid batches up to 768 KB; SNS messages are at most 256 KB. */
const MAX_BODY = 2 * 1024 * 1024;

const tooLarge = () => new AppError("payload_too_large", "Payload Too Large", { message: `Request body exceeds ${MAX_BODY} bytes` });

/** The server a hook URL names, when it answers for the provider. @throws 404 otherwise. */
function hookServer(deps: Deps, serverId: string, provider: string): { server: EmailServer; provider: Provider } {
  const id = /^\d{1,15}$/.test(serverId) ? Number(serverId) : null;
  const known = (PROVIDERS as readonly string[]).includes(provider) ? (provider as Provider) : null;
  const server = id !== null && known ? deps.db.select().from(email_servers).where(eq(email_servers.id, id)).get() : undefined;
  if (!server || !answersFor(server, known!)) throw new AppError("not_found", "Not Found");
  return { server, provider: known! };
}

async function readBody(request: Request): Promise<Uint8Array> {
  if (Number(request.headers.get("content-length") ?? 0) > MAX_BODY) throw tooLarge();
  const raw = new Uint8Array(await request.arrayBuffer());
  if (raw.byteLength > MAX_BODY) throw tooLarge();
  return raw;
}

export const providerHookRoutes = (deps: Deps) => {
  const posts = new RateLimiter<string>();
  const certificates = new SnsCertificates(() => deps.snsEdge ?? AWS_SNS);
  const readers: Record<Provider, (req: HookRequest, keys: WebhookKeys) => HookPayload | Promise<HookPayload>> = {
    ses: (req, keys) => readSes(req, keys, certificates),
    postmark: readPostmark,
    sendgrid: readSendgrid,
    mailgun: readMailgun,
  };
  // A plain handler: signatures cover the raw bytes, and SNS posts text/plain, which the API's JSON body reader refuses.
  return new Elysia().post("/hooks/providers/:server_id/:provider", async ({ params, request }) => {
    const now = deps.clock.now();
    posts.pruneEvery(now);
    const limit = posts.take(requestMeta(request).ip ?? "", POSTS_PER_MINUTE, now);
    if (!limit.allowed) throw new AppError("rate_limited", "Too many requests", {}, { "retry-after": String(limit.retryAfter) });
    const { server, provider } = hookServer(deps, params.server_id, params.provider);
    const req: HookRequest = { headers: request.headers, raw: await readBody(request), now };
    let payload: HookPayload;
    try {
      payload = await readers[provider](req, webhookKeys(deps, server));
    } catch (err) {
      if (err instanceof AppError) deps.log.info("provider_hooks.refused", { email_server_id: server.id, provider, status: err.code, error: err.publicMessage });
      throw err;
    }
    if (payload.confirmed) {
      deps.log.info("provider_hooks.subscription_confirmed", { email_server_id: server.id, provider });
      return { confirmed: true };
    }
    const outcomes = recordProviderEvents(deps, server, provider, payload.events, payload.nonce);
    const count = (outcome: string) => outcomes.filter((o) => o === outcome).length;
    return { received: outcomes.length, applied: count("applied"), replayed: count("replay") };
  });
};
