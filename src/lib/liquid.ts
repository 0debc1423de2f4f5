/**
 * The one sandboxed Liquid engine (docs/api-reference.md §8) used by every save-time check and send path.
 * Sandbox: no file system, no include/render/layout tags, own properties only (no prototype
 * access), undefined variables render empty, and every render is bounded in time (1 s),
 * allocation (`memoryLimit`) and output size.
 */
import type { Emitter, FS, Liquid, TagToken, Template, TopLevelToken } from "liquidjs";

type LiquidJs = typeof import("liquidjs");

/** Max characters parsed per template (a 1 MiB body plus headroom). */
const PARSE_LIMIT = 2 * 1024 * 1024;
/** Wall time per render, ms. */
const RENDER_LIMIT_MS = 1000;
/** liquidjs allocation units (string lengths, array sizes, range sizes) per render. */
const MEMORY_LIMIT = 20_000_000;
/** Max characters of rendered output. */
const OUTPUT_LIMIT = 5 * 1024 * 1024;
/** Parsed templates kept for reuse (a broadcast renders one source for many recipients). */
const CACHE_SIZE = 500;

/** An `fs` that refuses everything: templates never reach the disk. */
const noFs: FS = {
  exists: async () => false,
  existsSync: () => false,
  readFile: async () => {
    throw new Error("file access is disabled");
  },
  readFileSync: () => {
    throw new Error("file access is disabled");
  },
  resolve: (_dir, file) => file,
  contains: async () => false,
  containsSync: () => false,
};

/**
 * liquidjs and the engine are loaded on first use, not at boot: the library adds ~4 MiB of resident
 * memory and most requests never touch a template. `require` keeps the save-time check synchronous.
 */
let loaded: { lib: LiquidJs; engine: Liquid } | null = null;

function liquid(): { lib: LiquidJs; engine: Liquid } {
  if (loaded) return loaded;
  const lib = require("liquidjs") as LiquidJs;
  const engine = new lib.Liquid({
    fs: noFs,
    root: [],
    partials: [],
    layouts: [],
    relativeReference: false,
    dynamicPartials: false,
    ownPropertyOnly: true,
    strictVariables: false,
    strictFilters: true,
    jsTruthy: false,
    cache: false,
    timezoneOffset: 0,
    parseLimit: PARSE_LIMIT,
    renderLimit: RENDER_LIMIT_MS,
    memoryLimit: MEMORY_LIMIT,
  });
  // File-loading tags fail at parse time, so `{% include %}` & co. are a 422 at save, not a send-time surprise.
  for (const name of ["include", "render", "layout"]) {
    engine.registerTag(
      name,
      class extends lib.Tag {
        constructor(token: TagToken, remain: TopLevelToken[], liquid: Liquid) {
          super(token, remain, liquid);
          throw new Error(`tag "${name}" is not allowed (templates cannot load other files)`);
        }
        *render(): Generator<unknown, void, unknown> {}
      },
    );
  }
  return (loaded = { lib, engine });
}

/** Why a render failed: a syntax error, a sandbox limit (time/memory/output), or another runtime error. */
export type RenderFailure = "syntax" | "limit" | "error";

/** Thrown by `renderLiquid`; the delivery path turns it into `failure_reason: "render_error"`. */
export class RenderError extends Error {
  constructor(
    message: string,
    readonly reason: RenderFailure,
  ) {
    super(message);
    this.name = "RenderError";
  }
}

/** "tag "foo" not found, line:3, col:1" → "tag "foo" not found, line 3". */
function describe(err: unknown): string {
  if (loaded && err instanceof loaded.lib.LiquidError) {
    const base = err.message.replace(/,?\s*line:\d+, col:\d+[\s\S]*$/, "").replace(/\s+/g, " ").trim();
    const line = err.token?.getPosition?.()[0];
    return line ? `${base}, line ${line}` : base;
  }
  return err instanceof Error ? err.message : String(err);
}

const cache = new Map<string, Template[]>();

/** Text without `{{` or `{%` has no Liquid markup: it parses, and renders as itself. */
const hasMarkup = (source: string) => source.includes("{{") || source.includes("{%");

function parse(source: string): Template[] {
  const hit = cache.get(source);
  if (hit) {
    // Refresh recency (Map keeps insertion order, so the first key is the least recently used).
    cache.delete(source);
    cache.set(source, hit);
    return hit;
  }
  const templates = liquid().engine.parse(source);
  cache.set(source, templates);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return templates;
}

/** Returns null when `source` parses, else "Liquid syntax error: <reason>, line N" (for 422s at save). */
export function checkLiquid(source: string | null | undefined): string | null {
  if (!source || !hasMarkup(source)) return null;
  try {
    parse(source);
    return null;
  } catch (err) {
    return `Liquid syntax error: ${describe(err)}`;
  }
}

const renderTooLong = (): never => {
  throw new RenderError(`output exceeds ${OUTPUT_LIMIT} characters`, "limit");
};

/** Buffers output and stops the render once it passes OUTPUT_LIMIT characters. */
class BoundedEmitter implements Emitter {
  buffer = "";
  write(html: unknown): void {
    this.buffer += html == null ? "" : typeof html === "string" ? html : String(html);
    if (this.buffer.length > OUTPUT_LIMIT) renderTooLong();
  }
}

const isLimit = (message: string) => /limit exceeded|output exceeds/i.test(message);

/** Renders `source` with `variables` in the sandbox. Throws `RenderError` on syntax errors, limits, or runtime failures. */
export async function renderLiquid(source: string | null | undefined, variables: Record<string, unknown>): Promise<string> {
  if (!source) return "";
  if (!hasMarkup(source)) return source.length > OUTPUT_LIMIT ? renderTooLong() : source;
  let templates: Template[];
  try {
    templates = parse(source);
  } catch (err) {
    throw new RenderError(`Liquid syntax error: ${describe(err)}`, "syntax");
  }
  const emitter = new BoundedEmitter();
  try {
    const { lib, engine } = liquid();
    const ctx = new lib.Context(variables, engine.options, {}, { liquid: engine });
    await lib.toPromise(engine.renderer.renderTemplates(templates, ctx, emitter));
  } catch (err) {
    const inner = err instanceof liquid().lib.LiquidError && err.originalError instanceof RenderError ? err.originalError : err;
    if (inner instanceof RenderError) throw inner;
    const message = describe(inner);
    throw new RenderError(`Liquid render error: ${message}`, isLimit(message) ? "limit" : "error");
  }
  return emitter.buffer;
}

/** Subscriber fields exposed to templates (a transactional to a non-subscriber may have only `email`). */
export interface LiquidSubscriber {
  id?: number | null;
  email: string;
  first_name?: string | null;
  last_name?: string | null;
  tags?: string[] | null;
  custom_data?: Record<string, unknown> | null;
  created_at?: number | null;
}

export interface LiquidChannel {
  name: string;
  sender_name?: string | null;
  sender_email?: string | null;
}

export interface VariableSources {
  subscriber?: LiquidSubscriber | null;
  channel?: LiquidChannel | null;
  /** Transactional `data`. */
  data?: Record<string, unknown> | null;
  broadcast?: { name: string; subject?: string | null } | null;
  unsubscribe_url?: string | null;
  confirmation_url?: string | null;
}

/** Top-level names custom_data shorthands may not override. */
const RESERVED = new Set(["subscriber", "channel", "broadcast", "data", "unsubscribe_url", "confirmation_url", "email", "first_name", "last_name"]);

/** Builds the §8 variable set: subscriber.*, shorthands (incl. top-level custom_data keys unless clashing), channel.*, broadcast.*, data.*, URLs. */
export function buildVariables(src: VariableSources): Record<string, unknown> {
  const vars: Record<string, unknown> = {};
  const s = src.subscriber;
  if (s) {
    const custom = s.custom_data ?? {};
    for (const [key, value] of Object.entries(custom)) if (!RESERVED.has(key)) vars[key] = value;
    const fullName = [s.first_name, s.last_name].filter((p) => p && p.trim()).join(" ");
    vars.subscriber = {
      id: s.id ?? null,
      email: s.email,
      first_name: s.first_name ?? null,
      last_name: s.last_name ?? null,
      full_name: fullName || null,
      tags: s.tags ?? [],
      created_at: s.created_at == null ? null : new Date(s.created_at).toISOString(),
      custom_data: custom,
    };
    vars.email = s.email;
    vars.first_name = s.first_name ?? null;
    vars.last_name = s.last_name ?? null;
  }
  if (src.channel) {
    vars.channel = { name: src.channel.name, sender_name: src.channel.sender_name ?? null, sender_email: src.channel.sender_email ?? null };
  }
  if (src.broadcast) vars.broadcast = { name: src.broadcast.name, subject: src.broadcast.subject ?? null };
  vars.data = src.data ?? {};
  if (src.unsubscribe_url != null) vars.unsubscribe_url = src.unsubscribe_url;
  if (src.confirmation_url != null) vars.confirmation_url = src.confirmation_url;
  return vars;
}
