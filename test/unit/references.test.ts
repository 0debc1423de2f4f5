import { expect, test } from "bun:test";
import { References } from "@/lib/references";

// The registry is generic over the handle it passes on; a plain object stands in for the database.
const db = { name: "db" };

test("usages come from every finder registered for the kind, in registration order, with the handle passed through", () => {
  const seen: unknown[] = [];
  const references = new References<typeof db>()
    .register("template", (handle, id) => (seen.push(handle), [`transactional ${id}`]))
    .register("template", (_, id) => [`opt_in_form ${id + 1}`])
    .register("segment", () => ["broadcast 9"]);
  expect(references.usages(db, "template", 4)).toEqual(["transactional 4", "opt_in_form 5"]);
  expect(seen).toEqual([db]);
  expect(references.usages(db, "segment", 4)).toEqual(["broadcast 9"]);
});

test("a kind nobody references is never in use", () => {
  const references = new References<typeof db>();
  expect(references.usages(db, "segment", 1)).toEqual([]);
  expect(references.inUseMessage(db, "segment", 1, "Segment")).toBeNull();
});

test("the in-use message names 20 usages and counts the rest", () => {
  const references = new References<typeof db>().register("template", () => Array.from({ length: 23 }, (_, i) => `transactional ${i + 1}`));
  const names = Array.from({ length: 20 }, (_, i) => `transactional ${i + 1}`).join(", ");
  expect(references.inUseMessage(db, "template", 1, "Template")).toBe(`Template is in use by: ${names} and 3 more`);
});
