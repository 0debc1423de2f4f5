/**
 * Layers point one way: every import of every src/**\/*.ts file is checked against the table
 * below, so an import that runs the wrong way (a feature reaching into a transport, lib/ reading the
 * database, auth/ depending on HTTP) fails here instead of in review.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { Glob } from "bun";

/**
 * What each module may import besides itself. A module is a top-level folder of src/ (each
 * `features/<name>` is its own) or a top-level file. Read bottom-up: pure helpers, storage,
 * access rules, the domain (features), then the runtimes and transports that call the domain.
 */
const LAYERS: Record<string, readonly string[]> = {
  lib: [], // pure helpers: errors, links, MIME, Liquid, tokens, time, log
  input: ["lib"], // reading input, whatever carried it: field specs and their JSON schemas, Input, page params
  version: [],
  "types.d": [],
  config: ["lib"],
  db: ["lib"],
  metrics: ["lib", "db"],
  jobs: ["lib", "metrics"],
  auth: ["lib", "db", "config", "metrics"],
  features: ["lib", "input", "db", "config", "version", "auth", "jobs"],
  // The runtimes and transports: they call features, never the other way round.
  outbox: ["lib", "db", "config", "metrics", "jobs", "features"],
  http: ["lib", "input", "db", "config", "version", "metrics", "auth", "features"],
  smtp: ["lib", "db", "config", "auth", "jobs", "features", "outbox"],
  admin: ["lib", "input", "db", "config", "auth", "jobs", "features", "http"],
};

/** Which features a feature may use (their services and models); the graph must stay acyclic. */
const FEATURE_EDGES: Record<string, readonly string[]> = {
  access_tokens: ["audit_log"],
  audit_log: [],
  bounces: ["events", "subscribers"],
  broadcasts: ["channels", "events", "segments", "subscribers"],
  captured_messages: [],
  channels: ["audit_log"],
  confirmation: ["events", "hosted_forms", "subscribers"],
  discovery: ["channels", "email_servers", "subscribers"],
  email_servers: ["audit_log"],
  events: [],
  hosted_forms: ["channels", "opt_in_forms", "subscribers"],
  opt_in_forms: [],
  provider_hooks: ["bounces", "email_servers"],
  segments: ["subscribers"],
  sequences: ["channels", "events", "segments", "subscribers"],
  subscribers: ["channels", "events"],
  suppressions: ["subscribers"],
  templates: [],
  tracking: ["broadcasts", "events", "subscribers"],
  transactionals: ["channels", "subscribers"],
  webhooks: ["events"],
  reputation: [],
};

/** Entry points that wire everything together: they may import anything. */
const COMPOSITION_ROOTS = [
  /^src\/(main|app|boot|runtime)\.ts$/,
  /^src\/cli\//,
  /^src\/outbox\/delivery-thread-entry\.ts$/, // the delivery Worker thread's main: builds its own deps
  /^src\/smtp\/inbound-thread-entry\.ts$/, // the inbound listener thread's main: builds its own deps
];

/** `deps.ts` is the wiring contract every layer receives: imported, and importing, as types only. */
const DEPS = "src/deps.ts";

/** A module's HTTP adapter (Elysia routes) may also use the HTTP plumbing: the permission macro, pagination. */
const isHttpAdapter = (file: string) =>
  file.endsWith("/routes.ts") ||
  // The Idempotency-Key replay hook runs inside the permission macro on the raw Request.
  file === "src/features/transactionals/idempotency.ts";
const HTTP_ADAPTER_EXTRA = ["http", "auth"];

/**
 * Known wrong-way imports, each with its reason. Every entry must still match something (a fixed
 * one fails the test until it is removed here).
 */
const EXCEPTIONS: { from: RegExp; to: RegExp; why: string }[] = [];

interface Import {
  file: string;
  target: string;
  typeOnly: boolean;
}

const IMPORT_FROM = /^[ \t]*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*["']([^"']+)["']/gm;
const SIDE_EFFECT = /^[ \t]*import\s*["']([^"']+)["']/gm;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** The project files `file` imports (packages, node: and files outside src/ are not ours to check). */
function importsOf(file: string, source: string): Import[] {
  const found: { spec: string; typeOnly: boolean }[] = [];
  for (const m of source.matchAll(IMPORT_FROM)) found.push({ spec: m[4], typeOnly: !!m[2] });
  for (const m of source.matchAll(SIDE_EFFECT)) found.push({ spec: m[1], typeOnly: false });
  for (const m of source.matchAll(DYNAMIC)) found.push({ spec: m[1], typeOnly: false });
  return found.flatMap(({ spec, typeOnly }) => {
    const path = spec.startsWith("@/") ? `src/${spec.slice(2)}` : spec.startsWith(".") ? normalize(join(dirname(file), spec)) : null;
    if (!path?.startsWith("src/")) return [];
    return [{ file, target: /\.[a-z]+$/.test(path) ? path : `${path}.ts`, typeOnly }];
  });
}

/** "features/subscribers", "http", "app", … */
function moduleOf(file: string): string {
  const parts = file.replace(/^src\//, "").split("/");
  if (parts[0] === "features" && parts.length > 2) return `features/${parts[1]}`;
  return parts.length === 1 ? parts[0].replace(/\.ts$/, "") : parts[0];
}

const layerOf = (module: string) => (module.startsWith("features/") ? "features" : module);

/** Why `imp` runs the wrong way, or null when it is allowed. */
function violation(imp: Import): string | null {
  const { file, target } = imp;
  const from = moduleOf(file);
  const to = moduleOf(target);
  if (from === to || COMPOSITION_ROOTS.some((r) => r.test(file))) return null;
  if (file === DEPS || target === DEPS) return imp.typeOnly ? null : `${file} → ${target}: deps.ts is imported and imports as types only`;
  const layer = layerOf(from);
  const allowed = new Set(LAYERS[layer] ?? []);
  if (isHttpAdapter(file)) for (const l of HTTP_ADAPTER_EXTRA) allowed.add(l);
  if (to.startsWith("features/") && layer === "features") {
    if (FEATURE_EDGES[from.slice("features/".length)]?.includes(to.slice("features/".length))) return null;
  } else if (allowed.has(layerOf(to))) return null;
  if (EXCEPTIONS.some((e) => e.from.test(file) && e.to.test(target))) return null;
  return `${file} → ${target}: ${from} may import ${[...allowed].join(", ") || "nothing of ours"}${layer === "features" ? ` and features ${FEATURE_EDGES[from.slice(9)]?.join(", ") || "none"}` : ""}`;
}

const files = [...new Glob("src/**/*.ts").scanSync(".")].sort();
const imports = files.flatMap((file) => importsOf(file, readFileSync(file, "utf8")));

describe("layers", () => {
  test("every module of src/ has a place in the table", () => {
    const modules = new Set(files.map(moduleOf));
    const placed = (m: string) =>
      m === "deps" || m === "cli" || COMPOSITION_ROOTS.some((r) => r.test(`src/${m}.ts`)) || (m.startsWith("features/") ? m.slice(9) in FEATURE_EDGES : m in LAYERS);
    expect([...modules].filter((m) => !placed(m))).toEqual([]);
  });

  test("no import runs the wrong way", () => {
    expect(imports.map(violation).filter(Boolean)).toEqual([]);
  });

  test("every exception is still needed", () => {
    const unused = EXCEPTIONS.filter((e) => !imports.some((i) => e.from.test(i.file) && e.to.test(i.target)));
    expect(unused.map((e) => e.why)).toEqual([]);
  });

  test("features depend on each other without cycles", () => {
    const visiting = new Set<string>();
    const done = new Set<string>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]) => {
      if (done.has(f)) return;
      if (visiting.has(f)) return void cycles.push([...path, f].join(" → "));
      visiting.add(f);
      for (const g of FEATURE_EDGES[f] ?? []) visit(g, [...path, f]);
      visiting.delete(f);
      done.add(f);
    };
    for (const f of Object.keys(FEATURE_EDGES)) visit(f, []);
    expect(cycles).toEqual([]);
  });
});

describe("the rule catches wrong-way imports", () => {
  const check = (file: string, source: string) => importsOf(file, source).map(violation);

  test("the imports named in issue 13", () => {
    expect(check("src/auth/scope.ts", 'import { AppError } from "@/http/errors";')[0]).toContain("auth may import");
    expect(check("src/smtp/replies.ts", 'import type { AppError } from "../http/errors";')[0]).toContain("smtp may import");
    expect(check("src/features/captured_messages/service.ts", 'import { headerValue } from "@/smtp/mime";')[0]).toContain("features/captured_messages may import");
    expect(check("src/features/email_servers/service.ts", 'import type { ServerTarget } from "@/outbox/transport";')[0]).toContain("may import");
    expect(check("src/lib/links.ts", 'import { settings } from "@/db/schema";')[0]).toContain("lib may import nothing of ours");
  });

  test("multi-line, re-export and dynamic imports are read; allowed ones pass", () => {
    expect(check("src/lib/x.ts", 'import {\n  a,\n  b,\n} from "../db/client";')[0]).toContain("lib may import");
    expect(check("src/db/x.ts", 'export { a } from "@/http/server";')[0]).toContain("db may import");
    expect(check("src/auth/x.ts", 'const m = await import("@/features/subscribers/service");')[0]).toContain("auth may import");
    expect(check("src/features/segments/service.ts", 'import { a } from "@/features/templates/service";')[0]).toContain("features subscribers");
    expect(check("src/features/templates/service.ts", 'import type { Deps } from "@/deps";\nimport { a } from "@/lib/errors";')).toEqual([null, null]);
    expect(check("src/features/templates/service.ts", 'import { Deps } from "@/deps";')[0]).toContain("types only");
    expect(check("src/features/templates/routes.ts", 'import { authPlugin } from "@/http/auth";')).toEqual([null]);
    expect(check("src/http/server.ts", 'import { x } from "@/features/subscribers/service";')).toEqual([null]);
  });
});
