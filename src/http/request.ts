/**
 * Per-request metadata set once by the HTTP edge (server.ts) and read by hooks and handlers:
 * request id, client IP (resolved lazily: asking the socket costs µs and most routes never need
 * it), and the authenticated principal.
 */
import type { ClientInfo, Principal } from "@/auth/principal";

export class RequestMeta implements ClientInfo {
  /** Set by auth once resolved (for logs); preset by the dashboard mirror for admin sessions. */
  principal: Principal | null = null;
  /** The template of the route that answered (metrics/routes.ts); null when none matched. */
  route: string | null = null;
  private resolvedIp: string | null = null;

  constructor(
    readonly id: string,
    private readonly request: Request | null,
    private readonly resolveIp: () => string,
  ) {}

  /** Client IP (peer, or X-Forwarded-For behind a trusted proxy). */
  get ip(): string {
    return (this.resolvedIp ??= this.resolveIp());
  }

  get userAgent(): string | null {
    return this.request?.headers.get("user-agent") ?? null;
  }
}

// Kept on the Request under a symbol: a WeakMap entry per request also costs the garbage collector
// weak-reference work, ~1 µs per request on /healthz under load.
const META = Symbol("requestMeta");
type WithMeta = Request & { [META]?: RequestMeta };

export const setRequestMeta = (request: Request, meta: RequestMeta) => {
  (request as WithMeta)[META] = meta;
};

const loopback = () => "127.0.0.1";

/** Metadata of a request; requests handled without the edge (app.handle in unit tests) get loopback defaults. */
export function requestMeta(request: Request): RequestMeta {
  return ((request as WithMeta)[META] ??= new RequestMeta(crypto.randomUUID(), request, loopback));
}
