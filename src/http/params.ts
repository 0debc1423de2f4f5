import { notFound } from "@/lib/errors";

/** A numeric path id (§1.3: `^[0-9]+$`, < 2^53), else 404 "<Resource> not found". */
export function pathId(value: string, resource: string): number {
  if (!/^[0-9]{1,16}$/.test(value)) throw notFound(resource);
  const id = Number(value);
  if (!Number.isSafeInteger(id)) throw notFound(resource);
  return id;
}
