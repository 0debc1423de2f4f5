/**
 * Per-request metadata set once by the HTTP edge (server.ts) and read by hooks and handlers:
 * request id, client IP, whether the transport is secure, and the authenticated principal.
 */
import type { Principal } from "@/auth/principal";

export interface RequestMeta {
  id: string;
  /** Client IP (peer, or X-Forwarded-For behind a trusted proxy). */
  ip: string;
  secure: boolean;
  /** Set by auth once resolved (for logs); preset by the dashboard mirror for admin sessions. */
  principal: Principal | null;
}

const metas = new WeakMap<Request, RequestMeta>();

export const setRequestMeta = (request: Request, meta: RequestMeta) => metas.set(request, meta);

/** Metadata of a request; requests handled without the edge (app.handle in unit tests) get loopback defaults. */
export function requestMeta(request: Request): RequestMeta {
  let meta = metas.get(request);
  if (!meta) metas.set(request, (meta = { id: crypto.randomUUID(), ip: "127.0.0.1", secure: true, principal: null }));
  return meta;
}
