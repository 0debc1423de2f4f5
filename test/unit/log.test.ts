import { describe, expect, test } from "bun:test";
import { createLogger } from "@/lib/log";

const collect = (clock = () => Date.UTC(2026, 10, 22, 12, 0, 0, 5)) => {
  const chunks: string[] = [];
  const log = createLogger((chunk) => chunks.push(chunk), clock);
  const lines = () => chunks.join("").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, chunks, lines };
};

describe("logger", () => {
  test("request lines and event lines come out in the order they were logged, as valid JSON", () => {
    const { log, lines } = collect();
    log.info("server.started", { port: 3000 });
    log.request("GET", '/api/v1/"odd"\npath', 200, 0.125, 'id-"1"', 7);
    log.warn("slow", { ms: 12 });
    log.request("POST", "/api/v1/subscribers", 422, 1.5, "id-2", null);
    log.flush();
    expect(lines()).toEqual([
      { time: "2026-11-22T12:00:00.005Z", level: "info", event: "server.started", port: 3000 },
      {
        time: "2026-11-22T12:00:00.005Z", level: "info", event: "request", method: "GET", path: '/api/v1/"odd"\npath',
        status: 200, duration_ms: 0.125, request_id: 'id-"1"', token_id: 7,
      },
      { time: "2026-11-22T12:00:00.005Z", level: "warn", event: "slow", ms: 12 },
      {
        time: "2026-11-22T12:00:00.005Z", level: "info", event: "request", method: "POST", path: "/api/v1/subscribers",
        status: 422, duration_ms: 1.5, request_id: "id-2", token_id: null,
      },
    ]);
  });

  test("a request line carries the time it was logged, not the time it was flushed", () => {
    let now = Date.UTC(2026, 0, 1);
    const { log, lines } = collect(() => now);
    log.request("GET", "/healthz", 200, 0.1, "a", null);
    now += 60_000;
    log.request("GET", "/healthz", 200, 0.1, "b", null);
    log.flush();
    expect(lines().map((l) => l.time)).toEqual(["2026-01-01T00:00:00.000Z", "2026-01-01T00:01:00.000Z"]);
  });

  test("lines are written in batches: nothing per line, one write per 256 lines, the rest on flush", () => {
    const { log, chunks, lines } = collect();
    for (let i = 0; i < 255; i++) log.request("GET", "/healthz", 200, 0.1, `r${i}`, null);
    expect(chunks).toHaveLength(0);
    log.request("GET", "/healthz", 200, 0.1, "r255", null);
    expect(chunks).toHaveLength(1);
    log.info("after");
    log.flush();
    expect(chunks).toHaveLength(2);
    expect(lines()).toHaveLength(257);
    log.flush();
    expect(chunks).toHaveLength(2);
  });

  test("a batch holding more than 64 KiB of text is written at once (long paths cannot pile up)", () => {
    const { log, chunks, lines } = collect();
    log.request("GET", "/a", 200, 0.1, "r1", null);
    expect(chunks).toHaveLength(0);
    log.request("GET", `/${"x".repeat(70 * 1024)}`, 404, 0.1, "r2", null);
    expect(chunks).toHaveLength(1);
    expect(lines().map((l) => l.request_id)).toEqual(["r1", "r2"]);
  });

  test("anything shaped like a token (mr_ + 38 base62) is redacted from request paths and event lines", () => {
    const { log, chunks, lines } = collect();
    const token = `mr_${"Ab3".repeat(12)}xy`;
    log.request("GET", `/api/v1/subscribers/${token}`, 404, 0.1, "r1", null);
    log.request("GET", `/x/${token}${token}/y`, 404, 0.1, "r2", null);
    log.error("http.unhandled", { error: `TypeError: "http://h/api/v1/whoami?api_key=${token}" cannot be parsed as a URL` });
    // Not token-shaped: kept as they are.
    log.request("GET", "/api/v1/mr_short", 404, 0.1, "r3", null);
    log.info("plain", { note: `mr_${"a".repeat(37)}!` });
    log.flush();
    expect(chunks.join("")).not.toContain(token);
    expect(lines().map((l) => l.path ?? l.error ?? l.note)).toEqual([
      "/api/v1/subscribers/mr_[redacted]",
      "/x/mr_[redacted]mr_[redacted]/y",
      'TypeError: "http://h/api/v1/whoami?api_key=mr_[redacted]" cannot be parsed as a URL',
      "/api/v1/mr_short",
      `mr_${"a".repeat(37)}!`,
    ]);
  });

  test("buffered lines are written within 50 ms without an explicit flush", async () => {
    const { log, chunks } = collect();
    log.info("soon");
    await Bun.sleep(120);
    expect(chunks.join("")).toContain('"event":"soon"');
  });
});
