/**
 * Which methods a path answers to, from the app's registered routes: turns Elysia's NOT_FOUND into
 * 405 + Allow when the path exists under another method (docs/api-reference.md §1.2).
 */
interface RouteLike {
  method: string;
  path: string;
}

export function createAllowLookup(routes: () => readonly RouteLike[]) {
  let table: { pattern: RegExp; method: string }[] | null = null;
  const build = () =>
    routes()
      .filter((r) => r.method !== "ALL")
      .map((r) => ({
        method: r.method,
        pattern: new RegExp(
          "^" + r.path.replace(/\/$/, "").replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:[^/]+/g, "[^/]+").replace(/\*/g, ".*") + "/?$",
        ),
      }));
  /** Methods allowed on `path` (with HEAD for GET and PUT for PATCH), empty when none. */
  return (path: string): string[] => {
    table ??= build();
    const methods = new Set<string>();
    for (const r of table) if (r.pattern.test(path)) methods.add(r.method);
    if (methods.has("GET")) methods.add("HEAD");
    if (methods.has("PATCH")) methods.add("PUT");
    return [...methods].sort();
  };
}
