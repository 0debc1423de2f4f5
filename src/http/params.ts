/** Path parameters: how a route's `:name` segments are read and documented (route contracts, contract.ts). */
import { notFound } from "@/lib/errors";
import type { JsonSchema } from "@/input/fields";

export interface ParamSpec<T> {
  parse(raw: string): T;
  schema: JsonSchema;
}

/** A numeric path id (§1.3: `^[0-9]+$`, < 2^53), else 404 "<Resource> not found". */
export function pathId(value: string, resource: string): number {
  if (!/^[0-9]{1,16}$/.test(value)) throw notFound(resource);
  const id = Number(value);
  if (!Number.isSafeInteger(id)) throw notFound(resource);
  return id;
}

/** `:id` of a resource: an integer, else 404 "<Resource> not found". */
export const idParam = (resource: string): ParamSpec<number> => ({
  parse: (raw) => pathId(raw, resource),
  schema: { type: "integer", minimum: 0, description: `The ${resource.toLowerCase()}'s id` },
});

/** A segment taken as given (e.g. `/channels/:id_or_slug`). */
export const textParam = (description: string): ParamSpec<string> => ({ parse: (raw) => raw, schema: { type: "string", description } });
