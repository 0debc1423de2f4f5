/**
 * The HTTP edge around the Elysia app: request id, client IP and HTTPS rule (§1.1), `.json` suffix
 * and PUT→PATCH rewriting (§1.2), query/header size limits, one log line and one metrics count per
 * request (by route template), and listening without SO_REUSEPORT so a second instance fails
 * loudly. (Common response headers are set by the app itself, at Response construction: mutating a
 * built Response costs ~1 µs per header.)
 */
import type { Server } from "bun";
import { readFileSync } from "node:fs";
import { clientIp, ipInCidrs, isLoopback, normalizeIp, parseCidr, type ParsedCidr } from "@/auth/ip";
import type { Deps } from "@/deps";
import { BULK_BODY_LIMIT } from "./compat";
import { AppError } from "@/lib/errors";
import { codeToStatus, errorBody } from "./errors";
import { RequestMeta, setRequestMeta } from "./request";

type FetchApp = { handle(request: Request): Promise<Response> | Response };

const MAX_QUERY_BYTES = 8 * 1024;
const MAX_HEADER_BYTES = 16 * 1024;
const VALID_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;
/** Where Elysia starts looking for the path in a URL ("http://" + a 4-character host). */
const MIN_PATH_START = 11;
/** A Host header a URL can carry: a name or IP literal and an optional port (no user info, spaces, paths). */
const HOST_SHAPE = /^(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::\d{0,5})?$/;
const invalidHost = () => new AppError("bad_request", "Invalid Host header", { message: "Host must be a host name or IP address, with an optional port" });

const errorResponse = (e: AppError, requestId: string) =>
  new Response(JSON.stringify(errorBody(e)), {
    status: codeToStatus[e.code],
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "x-request-id": requestId, ...e.headers },
  });

export function createFetchHandler(app: FetchApp, deps: Deps) {
  const { config, log, metrics } = deps;
  const trusted: ParsedCidr[] = config.trustedProxies.map(parseCidr).filter((c): c is ParsedCidr => c !== null);
  const tls = !!config.tlsCert;
  const checkHttps = config.requireHttps && !tls;
  const publicOrigin = new URL(config.publicUrl).origin;
  /** Stands in for a Host the router cannot use: missing (HTTP/1.0), empty, or 1–3 characters. */
  const placeholderOrigin = `${tls ? "https" : "http"}://localhost`;
  // Hosts repeat: whether one is usable (~0.1 µs to tell) is remembered (bounded).
  const hosts = new Map<string, boolean>();
  const usableHost = (host: string) => {
    let usable = hosts.get(host);
    if (usable === undefined) {
      if (hosts.size > 1000) hosts.clear();
      hosts.set(host, (usable = HOST_SHAPE.test(host) && URL.canParse(`http://${host}/`)));
    }
    return usable;
  };
  let counter = 0;
  const bootId = Date.now().toString(36);
  // Parsing an address costs ~1 µs; peers repeat, so their normalised form is remembered (bounded).
  const peers = new Map<string, { ip: string; loopback: boolean }>();
  const peerFacts = (request: Request, server: Server<unknown>) => {
    const address = server.requestIP(request)?.address ?? "127.0.0.1";
    let facts = peers.get(address);
    if (!facts) {
      if (peers.size > 10_000) peers.clear();
      const ip = normalizeIp(address);
      peers.set(address, (facts = { ip, loopback: isLoopback(ip) }));
    }
    return facts;
  };
  const clientIpOf = (request: Request, server: Server<unknown>) => {
    const peer = peerFacts(request, server).ip;
    return trusted.length ? clientIp(peer, request.headers.get("x-forwarded-for"), trusted) : peer;
  };
  /**
   * Secure = TLS, or a trusted proxy saying https, or a loopback peer that is not a trusted proxy.
   * Behind a chain of proxies the first X-Forwarded-Proto value is the client's own scheme.
   */
  const isSecure = (request: Request, server: Server<unknown>) => {
    const peer = peerFacts(request, server);
    if (trusted.length && ipInCidrs(peer.ip, trusted)) {
      return request.headers.get("x-forwarded-proto")?.split(",")[0]!.trim().toLowerCase() === "https";
    }
    return peer.loopback;
  };

  return async function fetch(request: Request, server: Server<unknown>): Promise<Response> {
    const started = performance.now();
    const headers = request.headers;
    // One pass over the headers: their total size (431) and the client's request id.
    let headerSize = 0;
    let given: string | null = null;
    let host = "";
    headers.forEach((value, name) => {
      headerSize += name.length + value.length + 4;
      if (name === "x-request-id") given = value;
      else if (name === "host") host = value;
    });
    const id = given !== null && VALID_REQUEST_ID.test(given) ? given : `${bootId}-${(++counter).toString(36)}`;
    const meta = new RequestMeta(id, request, () => clientIpOf(request, server));

    let url = request.url;
    // Bun leaves the URL relative ("/path") when the Host is missing (HTTP/1.0), empty or unusable.
    const hostless = url.charCodeAt(0) === 0x2f;
    if (hostless) url = placeholderOrigin + url;
    const pathStart = url.indexOf("/", url.indexOf("//") + 2);
    const queryStart = url.indexOf("?", pathStart);
    let path = queryStart < 0 ? url.slice(pathStart) : url.slice(pathStart, queryStart);
    const isApi = path.startsWith("/api/") || path.startsWith("/admin/api/");
    let response: Response;
    try {
      if (host !== "" && !usableHost(host)) throw invalidHost();
      if (queryStart >= 0 && url.length - queryStart - 1 > MAX_QUERY_BYTES) {
        throw new AppError("uri_too_long", "URI Too Long", { message: `Query string exceeds ${MAX_QUERY_BYTES} bytes` });
      }
      if (headerSize > MAX_HEADER_BYTES) {
        throw new AppError("headers_too_large", "Request Header Fields Too Large", { message: `Headers exceed ${MAX_HEADER_BYTES} bytes` });
      }
      if (checkHttps && path !== "/healthz" && !isSecure(request, server)) {
        if (isApi || (request.method !== "GET" && request.method !== "HEAD")) throw new AppError("forbidden", "Forbidden", { message: "HTTPS required" });
        return Response.redirect(publicOrigin + url.slice(pathStart), 308);
      }
      let target = request;
      const stripJson = isApi && path.endsWith(".json");
      // Elysia's router finds the path by searching for "/" from index 11, which skips it when the
      // Host is 1–3 characters ("http://web/"): such requests get a longer placeholder host.
      const shortHost = pathStart < MIN_PATH_START;
      if (stripJson || request.method === "PUT" || shortHost || hostless) {
        if (stripJson) path = path.slice(0, -5);
        const origin = shortHost ? placeholderOrigin : url.slice(0, pathStart);
        const rewritten = origin + path + (queryStart < 0 ? "" : url.slice(queryStart));
        target = new Request(rewritten, { method: request.method === "PUT" ? "PATCH" : request.method, headers, body: request.body, duplex: "half" } as RequestInit);
      }
      setRequestMeta(target, meta);
      const handled = app.handle(target);
      response = handled instanceof Promise ? await handled : handled;
    } catch (err) {
      const e = err instanceof AppError ? err : new AppError("internal", "Server error (500): internal", { request_id: id }, {}, { cause: err });
      if (!(err instanceof AppError)) log.error("http.unhandled", { request_id: id, error: String(err) });
      response = errorResponse(e, id);
    }
    log.request(request.method, path, response.status, Math.round((performance.now() - started) * 1000) / 1000, id, meta.principal?.kind === "token" ? meta.principal.id : null);
    metrics.request(request.method, meta.route ?? "unmatched", response.status);
    return response;
  };
}

export interface HttpServer {
  port: number;
  url: string;
  /** Stops accepting; resolves when in-flight requests have finished (or the timeout passed). */
  stop(timeoutMs: number): Promise<void>;
}

/**
 * Listens on config host/port (port 0 = ephemeral), with TLS when configured.
 * @throws when the port is in use (no reusePort: a second instance fails).
 */
export function listenHttp(app: FetchApp, deps: Deps, override: { port?: number; hostname?: string } = {}): HttpServer {
  const { config } = deps;
  const fetch = createFetchHandler(app, deps);
  const server = Bun.serve({
    port: override.port ?? config.port,
    hostname: override.hostname ?? config.host,
    reusePort: false,
    // Above every route limit (the JSON limit, 10 MiB on bulk routes) so our 413 answers, not the socket.
    maxRequestBodySize: Math.max(config.maxBodyBytes, BULK_BODY_LIMIT) + 1024 * 1024,
    idleTimeout: 60,
    tls: config.tlsCert ? { cert: readFileSync(config.tlsCert, "utf8"), key: readFileSync(config.tlsKey!, "utf8") } : undefined,
    fetch,
    error(err) {
      deps.log.error("http.server_error", { error: String(err) });
      return new Response(JSON.stringify({ error: "Server error (500): internal" }), { status: 500, headers: { "content-type": "application/json; charset=utf-8" } });
    },
  });
  const scheme = config.tlsCert ? "https" : "http";
  return {
    port: server.port!,
    url: `${scheme}://${server.hostname === "0.0.0.0" ? "127.0.0.1" : server.hostname}:${server.port}`,
    async stop(timeoutMs) {
      const graceful = server.stop(false);
      const timeout = new Promise<void>((r) => setTimeout(r, timeoutMs).unref?.());
      await Promise.race([graceful, timeout]);
      server.stop(true);
    },
  };
}
