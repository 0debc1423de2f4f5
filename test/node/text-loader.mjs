// Node ESM hook: `import sql from "x.sql" with { type: "text" }` yields the file's text, as Bun does.
import { register } from "node:module";

register(
  "data:text/javascript," +
    encodeURIComponent(`
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
export async function resolve(specifier, context, next) {
  if (specifier.endsWith(".sql")) {
    const r = await next(specifier, { ...context, importAttributes: {} });
    return { ...r, importAttributes: {} };
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (url.endsWith(".sql")) {
    return { format: "module", shortCircuit: true, source: "export default " + JSON.stringify(readFileSync(fileURLToPath(url), "utf8")) };
  }
  return next(url, context);
}`),
);
