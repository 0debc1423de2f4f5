/**
 * In-memory view of access tokens and channels for the request hot path: no SELECT per request in
 * steady state. Invalidated synchronously by every token/channel write in this process
 * (`invalidate()`), and when another process (the CLI) commits (foreign-write detector).
 */
import { and, eq, gt, sql } from "drizzle-orm";
import type { Database } from "@/db/client";
import { createForeignWriteDetector } from "@/db/change-detector";
import { access_token_channels, access_tokens, channels, type AccessToken, type Channel } from "@/db/schema";
import type { Permission } from "./permissions";
import { parseCidr, type ParsedCidr } from "./ip";
import { timingSafeEqual } from "node:crypto";

export interface CachedToken {
  row: AccessToken;
  id: number;
  permissions: ReadonlySet<Permission>;
  channelIds: readonly number[];
  allowedIps: readonly ParsedCidr[];
}

export interface TokenMatch {
  token: CachedToken;
  /** The request used the previous value during a refresh grace period. */
  viaPreviousValue: boolean;
  /** The stored hash this match was found by, as bytes (for the constant-time compare). */
  digest: Buffer;
}

export class AuthCache {
  private tokens = new Map<string, TokenMatch>();
  private channelList: Channel[] | null = null;
  private channelIdList: readonly number[] = [];
  private channelsById = new Map<number, Channel>();
  private channelsBySlug = new Map<string, Channel>();
  private readonly foreignWrite: (fresh?: boolean) => boolean;
  private readonly byHash;
  private readonly byPreviousHash;
  private readonly channelIdsOf;
  /** The presented hash as bytes, reused: a Buffer allocated per request was 4 % of the whoami profile. */
  private readonly presented = Buffer.alloc(32);

  constructor(private readonly database: Database) {
    const db = database.db;
    this.foreignWrite = createForeignWriteDetector(database);
    this.byHash = db.select().from(access_tokens).where(eq(access_tokens.token_hash, placeholder("hash"))).prepare();
    this.byPreviousHash = db
      .select()
      .from(access_tokens)
      .where(and(eq(access_tokens.previous_token_hash, placeholder("hash")), gt(access_tokens.previous_expires_at, placeholder("now"))))
      .prepare();
    this.channelIdsOf = db
      .select({ id: access_token_channels.channel_id })
      .from(access_token_channels)
      .where(eq(access_token_channels.token_id, placeholder("id")))
      .prepare();
  }

  /** Drops everything; the next lookups reload from the database. */
  invalidate(): void {
    this.tokens.clear();
    this.channelList = null;
  }

  /** `fresh`: ask the database now (a token revoked by the CLI must fail its next request). */
  private sync(fresh = false): void {
    if (this.foreignWrite(fresh)) this.invalidate();
  }

  /**
   * The token whose current (or unexpired previous) value hashes to `hash`, or null. `mayQuery` is
   * asked before a cache miss goes to the database (the checksum check lives there).
   */
  findByHash(hash: string, now: number, mayQuery: () => boolean = () => true): TokenMatch | null {
    this.sync(true);
    let match = this.tokens.get(hash);
    if (!match) {
      if (!mayQuery()) return null;
      const current = this.byHash.get({ hash }) as AccessToken | undefined;
      const row = current ?? (this.byPreviousHash.get({ hash, now }) as AccessToken | undefined);
      if (!row) return null;
      const stored = current ? row.token_hash : row.previous_token_hash!;
      match = { token: this.build(row), viaPreviousValue: !current, digest: Buffer.from(stored, "hex") };
      this.tokens.set(hash, match);
    }
    this.presented.write(hash, "hex");
    if (!timingSafeEqual(match.digest, this.presented)) return null;
    if (match.viaPreviousValue && (match.token.row.previous_expires_at ?? 0) <= now) return null;
    return match;
  }

  private build(row: AccessToken): CachedToken {
    const ids = (this.channelIdsOf.all({ id: row.id }) as { id: number }[]).map((r) => r.id).sort((a, b) => a - b);
    return {
      row,
      id: row.id,
      permissions: new Set(row.permissions as Permission[]),
      channelIds: ids,
      allowedIps: row.allowed_ips.map(parseCidr).filter((c): c is ParsedCidr => c !== null),
    };
  }

  /** Every channel, ordered by id (cached). */
  channels(): readonly Channel[] {
    this.sync();
    if (!this.channelList) {
      this.channelList = this.database.db.select().from(channels).orderBy(channels.id).all();
      this.channelsById = new Map(this.channelList.map((c) => [c.id, c]));
      this.channelsBySlug = new Map(this.channelList.map((c) => [c.slug, c]));
      this.channelIdList = this.channelList.map((c) => c.id);
    }
    return this.channelList;
  }

  /** Every channel id, ascending (cached: each request of a scope-`all` token needs the list). */
  channelIds(): readonly number[] {
    this.channels();
    return this.channelIdList;
  }

  channelById(id: number): Channel | undefined {
    this.channels();
    return this.channelsById.get(id);
  }

  /** A channel's slug, or null when it no longer exists. */
  slugOf(id: number): string | null {
    return this.channelById(id)?.slug ?? null;
  }

  channelBySlug(slug: string): Channel | undefined {
    this.channels();
    return this.channelsBySlug.get(slug);
  }
}

const placeholder = (name: string) => sql.placeholder(name);
