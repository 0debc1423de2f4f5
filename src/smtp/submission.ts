/**
 * SMTP submission (docs/api-reference.md §17), transport-side steps: AUTH with an API token through the same
 * authenticator as HTTP, the per-session channel, per-recipient checks, and turning one DATA into
 * the outbox's raw submission (From rules, Bcc removed, Message-ID/Date added, `send` bucket).
 * The outbox service (src/outbox/enqueue.ts) owns the quota and the rows.
 */
import { mailboxes, parseMail } from "@/lib/parse-mail";
import type { Principal } from "@/auth/principal";
import { makeScope, resolveScope } from "@/auth/scope";
import type { Channel } from "@/db/schema";
import type { Deps } from "@/deps";
import { deliveryMode } from "@/features/email_servers/service";
import { isSuppressed } from "@/features/subscribers/eligibility";
import { enqueueRawMessage } from "@/outbox/enqueue";
import { emailDomain, isEmail } from "@/lib/email";
import { hashToken, randomBase62 } from "@/lib/tokens";
import { checkHeaderSize, checkSenderHeaders } from "./header-rules";
import { headerValue, parseHeaderBlock, rewriteHeaders, toCrlf } from "@/lib/mime";
import { Replies, SmtpReply } from "./replies";

/** What a successful AUTH leaves on the session: the token's hash, never its value. */
export interface SubmissionUser {
  /** SHA-256 of the token value, checked again for every message (`reauthenticate`). */
  tokenHash: string;
  username: string | undefined;
  ip: string;
  principal: Principal;
  /** T after the username selector (§1.6); MAIL FROM needs exactly one. */
  channelIds: readonly number[];
}

/**
 * Authenticates AUTH PLAIN/LOGIN: password = API token (expiry, IP allowlist for `ip`), permission
 * `transactionals_write`; a username naming a channel is the §1.6 `channel` selector.
 * @throws AppError / SmtpReply — mapped to 535 (expired: its own 535 text), 454 after too many failures.
 */
export function authenticateSubmission(deps: Deps, username: string | undefined, password: string | undefined, ip: string): SubmissionUser {
  const principal = deps.auth.authenticate(password ?? null, ip);
  return authorize(deps, { tokenHash: hashToken(password!), username, ip }, principal);
}

/**
 * Checks the session's token again (MAIL FROM, end of DATA), like HTTP does per request: a token
 * revoked, refreshed, expired or edited since AUTH is refused (535) or applies its new rights.
 */
export function reauthenticate(deps: Deps, user: SubmissionUser): void {
  Object.assign(user, authorize(deps, user, deps.auth.authenticateHash(user.tokenHash, user.ip)));
}

function authorize(deps: Deps, session: Pick<SubmissionUser, "tokenHash" | "username" | "ip">, principal: Principal): SubmissionUser {
  const { cache } = deps.auth;
  if (!principal.permissions.has("transactionals_write")) throw Replies.badCredentials();
  const slug = session.username && cache.channelBySlug(session.username) ? session.username : undefined;
  const scope = resolveScope(principal, slug ? { channel: slug } : {}, cache);
  return { tokenHash: session.tokenHash, username: session.username, ip: session.ip, principal, channelIds: scope.channelIds };
}

/** The session's single channel. @throws SmtpReply 550 when T is not exactly one channel. */
export function submissionChannel(deps: Deps, user: SubmissionUser): Channel {
  try {
    return makeScope(user.principal, user.channelIds, true, deps.auth.cache).one();
  } catch (err) {
    if ((err as { code?: string }).code === "unprocessable") throw Replies.severalChannels();
    throw err;
  }
}

/** RCPT TO check: syntax, then the channel and global suppression lists. @throws SmtpReply 501/550. */
export function checkRecipient(deps: Deps, channel: Channel, address: string): void {
  if (!isEmail(address)) throw Replies.badRecipient();
  if (isSuppressed(deps.db, channel.id, address)) throw Replies.suppressed();
}

/**
 * Local capture is the channel's only destination for transactionals (§9): capture is on and the
 * channel has no server for the purpose (or MAILROOM_CAPTURE_ALL). Such channels may use any From.
 */
function capturesOnly(deps: Deps, channel: Channel): boolean {
  return deliveryMode(deps, channel.id, "transactionals").mode === "capture";
}

/** RFC 5322 Date of `ms`, e.g. "Thu, 15 Jan 2026 10:30:00 +0000". */
const rfc5322Date = (ms: number) => new Date(ms).toUTCString().replace(/GMT$/, "+0000");

/** The sender domain From and Sender must use; null when any is allowed (capture-only channel). */
function senderDomain(deps: Deps, channel: Channel): string | null {
  // A capture-only channel may lack sender_email: the worker then uses the From address as envelope sender.
  if (capturesOnly(deps, channel)) return null;
  if (!channel.sender_email) throw new SmtpReply(550, `5.7.1 Channel ${channel.slug} has no sender_email; set it before sending`);
  return emailDomain(channel.sender_email);
}

/** mailparser's own limits (part headers, number of parts) refuse the message for good, not for a retry. */
const parseSubmission = (message: Buffer) =>
  parseMail(message).catch((err: Error & { code?: string }) => {
    throw err?.code === "EMAXLEN" ? new SmtpReply(554, `5.6.0 Message structure not accepted: ${err.message}`) : err;
  });

/**
 * Accepts one DATA for the envelope's recipients: the token still valid, the header block within
 * its limits, From/Sender per header-rules.ts, one `send` token per recipient (all or nothing),
 * then one queued transactional per recipient. Returns the transactional ids.
 * @throws SmtpReply 552/554 (size, structure), 550 5.6.0 / 553 (From, Sender), AppError 401 (token), 429 (bucket), 402 (quota), 422.
 */
export async function acceptSubmission(deps: Deps, user: SubmissionUser, recipients: readonly string[], submitted: Buffer): Promise<number[]> {
  reauthenticate(deps, user);
  const channel = submissionChannel(deps, user);
  // Bare LF is taken as a line end, like Postfix's default (smtpd_forbid_bare_newline = normalize):
  // sloppy clients still send it. The relay turns every bare CR and LF into CRLF anyway, so the
  // message is normalised first and the checks, the stored row and the relayed bytes all agree.
  const message = toCrlf(submitted);
  checkHeaderSize(message);
  const { fields } = parseHeaderBlock(message);
  const from = checkSenderHeaders(fields, senderDomain(deps, channel));
  const parsed = await parseSubmission(message);

  const add: [string, string][] = [];
  let messageId = headerValue(fields, "Message-ID");
  if (!messageId) {
    // Same host part as the API's generated ids (§4); one id for the whole submission.
    messageId = `<${randomBase62(16).toLowerCase()}.smtp@${new URL(deps.config.publicUrl).hostname}>`;
    add.push(["Message-ID", messageId]);
  }
  if (!headerValue(fields, "Date")) add.push(["Date", rfc5322Date(deps.clock.now())]);
  const raw = rewriteHeaders(message, ["Bcc"], add);

  const named = [...mailboxes(parsed.to), ...mailboxes(parsed.cc)];
  const nameOf = (email: string) => named.find((a) => a.address?.toLowerCase() === email.toLowerCase())?.name || null;
  deps.auth.charge(user.principal, "send", recipients.length);
  const { ids } = enqueueRawMessage(deps, channel, {
    recipients: recipients.map((email) => ({ email, name: nameOf(email) })),
    raw,
    messageId,
    subject: parsed.subject ?? null,
    body: typeof parsed.html === "string" ? parsed.html : (parsed.text ?? null),
    from,
    replyTo: mailboxes(parsed.replyTo).find((a) => a.address)?.address ?? null,
    source: "smtp",
  });
  return ids;
}
