/**
 * JSON-lines logger. Lines are buffered and written in batches (one write per 50 ms at most) so a
 * request log line costs no syscall on the hot path; `flush()` runs at shutdown.
 * Never pass token values, passwords or secrets: callers log ids and redacted forms only.
 */
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** One line per HTTP request: time, method, path, status, duration_ms, request_id, token_id. */
  request(method: string, path: string, status: number, durationMs: number, requestId: string, tokenId: number | null): void;
  flush(): void;
}

export type LineSink = (chunk: string) => void;

const stdoutSink: LineSink = (chunk) => process.stdout.write(chunk);

export function createLogger(sink: LineSink = stdoutSink, clock: () => number = Date.now): Logger {
  // Lines are collected in an array and joined once per write (cheaper than growing one string).
  let lines: string[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (lines.length) {
      const chunk = lines.join("");
      lines = [];
      size = 0;
      sink(chunk);
    }
  };
  const append = (line: string) => {
    lines.push(line);
    size += line.length;
    if (size > 64 * 1024) flush();
    else if (!timer) {
      timer = setTimeout(flush, 50);
      (timer as { unref?: () => void }).unref?.();
    }
  };
  let lastMs = -1;
  let lastIso = "";
  const isoNow = () => {
    const ms = clock();
    if (ms !== lastMs) lastIso = new Date((lastMs = ms)).toISOString();
    return lastIso;
  };
  const at = (level: string) => (event: string, fields?: LogFields) => append(JSON.stringify({ time: isoNow(), level, event, ...fields }) + "\n");
  return {
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    // The hottest line is assembled by hand (no object, one stringify for the only free-form field).
    request: (method, path, status, durationMs, requestId, tokenId) =>
      append(
        `{"time":"${isoNow()}","level":"info","event":"request","method":"${method}","path":${JSON.stringify(path)},"status":${status},"duration_ms":${durationMs},"request_id":${JSON.stringify(requestId)},"token_id":${tokenId}}\n`,
      ),
    flush,
  };
}

/** A logger that keeps lines in memory (tests assert on what was logged). */
export function createMemoryLogger(): Logger & { lines: () => LogFields[]; text: () => string } {
  let text = "";
  const log = createLogger((chunk) => (text += chunk));
  return {
    ...log,
    text: () => (log.flush(), text),
    lines: () => (log.flush(), text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as LogFields)),
  };
}
