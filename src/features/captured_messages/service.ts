/**
 * Captured messages (docs/api-reference.md §18): what the local capture server received from Mailroom's own
 * delivery worker. `captureMessage` is called by the capture SMTP server (src/smtp/capture-server.ts);
 * the rest serves `/captured_messages`. Every read is scoped to the request's channel set T.
 */
import { and, desc, eq, getTableColumns, gte, inArray, lt, sql, type SQL } from "drizzle-orm";
import { mailboxes, parseMail } from "@/lib/parse-mail";
import { assertInScope, type Scope } from "@/auth/scope";
import { changes, perConnection, type Db } from "@/db/client";
import { captured_messages, captured_messages_count, messages, type CapturedMessage } from "@/db/schema";
import type { Deps } from "@/deps";
import { AppError } from "@/lib/errors";
import { linkSecret } from "@/db/settings";
import { verifyCaptureHeader } from "@/lib/links";
import { headerValue, parseHeaderBlock, rewriteHeaders } from "@/lib/mime";
import type { FieldValues } from "@/input/fields";
import type { CapturedFilterFields } from "./model";

export const CAPTURE_HEADER = "X-Mailroom-Capture";
const DAY_MS = 86_400_000;
const RESOURCE = "Captured message";

/** Every column but the raw MIME (lists and show never load it). */
const { raw: _raw, ...meta } = getTableColumns(captured_messages);
export type CapturedMeta = Omit<CapturedMessage, "raw">;

function prepareCapture(db: Db) {
  return {
    outbound: db
      .select({ channel_id: messages.channel_id, kind: messages.kind, broadcast_id: messages.broadcast_id, sequence_step_id: messages.sequence_step_id })
      .from(messages)
      .where(eq(messages.id, sql.placeholder("id")))
      .prepare(),
    expire: db.delete(captured_messages).where(lt(captured_messages.received_at, sql.placeholder("cutoff"))).prepare(),
    /** Kept by triggers (schema.ts): reading it does not walk the table. */
    total: db.select({ n: captured_messages_count.total }).from(captured_messages_count).where(eq(captured_messages_count.id, 1)).prepare(),
    trimOldest: db
      .delete(captured_messages)
      .where(inArray(captured_messages.id, db.select({ id: captured_messages.id }).from(captured_messages).orderBy(captured_messages.id).limit(sql.placeholder("excess"))))
      .prepare(),
  };
}
const statements = perConnection(prepareCapture);

export interface IncomingCapture {
  raw: Buffer;
  envelopeFrom: string | null;
  envelopeTo: readonly string[];
}

const refuse = () => new AppError("forbidden", "Capture accepts only Mailroom deliveries");

const addresses = (field: Parameters<typeof mailboxes>[0]): string[] =>
  mailboxes(field)
    .map((a) => a.address)
    .filter((a): a is string => !!a);

/**
 * Stores a message delivered to the capture server and prunes beyond the retention limits.
 * Only Mailroom's own deliveries are accepted: a valid `X-Mailroom-Capture` header naming an
 * existing outbox message (the header itself is not stored). Returns the captured id.
 * @throws AppError forbidden (no/invalid header, unknown message).
 */
export async function captureMessage(deps: Deps, incoming: IncomingCapture): Promise<number> {
  const { fields } = parseHeaderBlock(incoming.raw);
  const header = headerValue(fields, CAPTURE_HEADER);
  const outboundId = header === null ? null : verifyCaptureHeader(linkSecret(deps), header);
  if (outboundId === null) throw refuse();
  const q = statements(deps.db);
  const outbound = q.outbound.get({ id: outboundId });
  if (!outbound) throw refuse();

  const raw = rewriteHeaders(incoming.raw, [CAPTURE_HEADER]);
  const parsed = await parseMail(raw);
  const now = deps.clock.now();
  const { config } = deps;
  return deps.db.transaction((tx) => {
    const row = tx
      .insert(captured_messages)
      .values({
        channel_id: outbound.channel_id,
        outbound_message_id: outboundId,
        transactional_id: outbound.kind === "transactional" ? outboundId : null,
        broadcast_id: outbound.broadcast_id,
        sequence_step_id: outbound.sequence_step_id,
        message_id: parsed.messageId ? `<${parsed.messageId.replace(/^<|>$/g, "")}>` : null,
        from: parsed.from?.text ?? null,
        to: addresses(parsed.to),
        cc: addresses(parsed.cc),
        envelope_from: incoming.envelopeFrom,
        envelope_to: [...incoming.envelopeTo],
        subject: parsed.subject ?? null,
        size: raw.length,
        has_html: typeof parsed.html === "string" && parsed.html.length > 0,
        has_text: typeof parsed.text === "string" && parsed.text.length > 0,
        attachments: parsed.attachments.map((a) => ({ filename: a.filename ?? null, content_type: a.contentType, size: a.size })),
        raw,
        received_at: now,
      })
      .returning({ id: captured_messages.id })
      .get();
    // Both prunes are index probes: at capacity each insert removes the oldest row.
    const p = statements(tx);
    p.expire.run({ cutoff: now - config.captureRetentionDays * DAY_MS });
    const excess = (p.total.get()?.n ?? 0) - config.captureMax;
    if (excess > 0) p.trimOldest.run({ excess });
    return row.id;
  });
}

export type CapturedFilters = FieldValues<typeof CapturedFilterFields, true>;

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => "\\" + c);

/** Captured messages of T, newest first, with the total of matches. */
export function listCaptured(deps: Deps, scope: Scope, filters: CapturedFilters, limit: number, offset: number) {
  const where: SQL[] = [inArray(captured_messages.channel_id, [...scope.channelIds])];
  if (filters.to !== undefined) {
    // Matches To, Cc and the envelope (Bcc recipients only appear there), case-insensitively.
    const to = filters.to.toLowerCase();
    where.push(
      sql`EXISTS (SELECT 1 FROM json_each(${captured_messages.to}) WHERE lower(value) = ${to}
        UNION ALL SELECT 1 FROM json_each(${captured_messages.cc}) WHERE lower(value) = ${to}
        UNION ALL SELECT 1 FROM json_each(${captured_messages.envelope_to}) WHERE lower(value) = ${to})`,
    );
  }
  if (filters.subject !== undefined) where.push(sql`${captured_messages.subject} LIKE ${"%" + escapeLike(filters.subject) + "%"} ESCAPE '\\'`);
  if (filters.since !== undefined) where.push(gte(captured_messages.received_at, filters.since));
  if (filters.transactional_id !== undefined) where.push(eq(captured_messages.transactional_id, filters.transactional_id));
  if (filters.broadcast_id !== undefined) where.push(eq(captured_messages.broadcast_id, filters.broadcast_id));
  const condition = and(...where);
  const rows = deps.db.select(meta).from(captured_messages).where(condition).orderBy(desc(captured_messages.id)).limit(limit).offset(offset).all();
  const total = deps.db.select({ n: sql<number>`count(*)` }).from(captured_messages).where(condition).get()?.n ?? 0;
  return { rows: rows as CapturedMeta[], total };
}

/** One captured message's metadata. @throws 404 when missing or outside T. */
export function getCaptured(deps: Deps, scope: Scope, id: number): CapturedMeta {
  const row = deps.db.select(meta).from(captured_messages).where(eq(captured_messages.id, id)).get();
  assertInScope(scope, row?.channel_id ?? null, RESOURCE);
  return row as CapturedMeta;
}

/** The raw MIME as received (minus the capture header). @throws 404 when missing or outside T. */
export function getCapturedRaw(deps: Deps, scope: Scope, id: number): Buffer {
  const row = deps.db.select({ channel_id: captured_messages.channel_id, raw: captured_messages.raw }).from(captured_messages).where(eq(captured_messages.id, id)).get();
  assertInScope(scope, row?.channel_id ?? null, RESOURCE);
  return row!.raw;
}

/** Header list (`[name, unfolded raw value]`, in order) and the decoded HTML and text parts. */
export async function readCapturedContent(raw: Buffer): Promise<{ headers: [string, string][]; html: string | null; text: string | null }> {
  const parsed = await parseMail(raw);
  return {
    headers: parseHeaderBlock(raw).fields.map((f) => [f.name, f.value]),
    html: typeof parsed.html === "string" ? parsed.html : null,
    text: parsed.text ?? null,
  };
}

/** Deletes one captured message. @throws 404 when missing or outside T. */
export function deleteCaptured(deps: Deps, scope: Scope, id: number): void {
  getCaptured(deps, scope, id);
  deps.db.delete(captured_messages).where(eq(captured_messages.id, id)).run();
}

/** Deletes every captured message of T; returns how many. */
export function deleteAllCaptured(deps: Deps, scope: Scope): number {
  const result = deps.db.delete(captured_messages).where(inArray(captured_messages.channel_id, [...scope.channelIds])).run();
  return changes(result);
}
