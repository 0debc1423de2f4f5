/**
 * The compiled executable runs the inbound bounce listener in its own thread (a second entry point
 * of the build): it binds, refuses addresses that are not signed return paths, takes a DSN, and
 * applies it on the thread's own database connection.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { signedReturnPath } from "@/features/bounces/verp";
import { binaryApi, boot, freshBinary, TOKEN_PATTERN, type Booted } from "../binary";
import { deliverInbound, dsn } from "./reports";

const SECRET = "binary-test-link-secret-0123456789";
let server: Booted;
let port: number;

beforeAll(async () => {
  const { bin, dir } = freshBinary();
  server = await boot(bin, dir, { MAILROOM_BOUNCE_DOMAIN: "bounce.example.com", MAILROOM_INBOUND_HOST: "127.0.0.1", MAILROOM_INBOUND_PORT: "0", MAILROOM_LINK_SECRET: SECRET });
  port = Number(/"event":"inbound.listening".*?"port":(\d+)/.exec(server.startup)![1]);
}, 120_000);
afterAll(() => server?.proc.kill());

test("the listener thread answers: forged addresses 550, a DSN for a signed return path 250", async () => {
  expect((await deliverInbound(port, "bounces+1-00000000000000000000@bounce.example.com", "x")).rcpt).toStartWith("550 5.1.1");
  const returnPath = signedReturnPath(SECRET, "bounce.example.com", 424242);
  const replies = await deliverInbound(port, returnPath, dsn("postfix", { returnPath, to: "ada@example.com", messageId: "<1.x@example.com>" }));
  expect(replies.data).toBe("250 2.0.0 Ok: received as 1");
  server.proc.kill();
  expect(await server.output()).toContain('"event":"bounces.report_ignored"');
}, 30_000);

test("a DSN for a message the binary sent is applied by the listener's thread on its own connection", async () => {
  const { bin, dir } = freshBinary();
  const b = await boot(bin, dir, { MAILROOM_BOUNCE_DOMAIN: "bounce.example.com", MAILROOM_INBOUND_HOST: "127.0.0.1", MAILROOM_INBOUND_PORT: "0", MAILROOM_LINK_SECRET: SECRET });
  try {
    const token = TOKEN_PATTERN.exec(b.startup)![0];
    const inbound = Number(/"event":"inbound.listening".*?"port":(\d+)/.exec(b.startup)![1]);
    const sent = await binaryApi(b, token, "POST", "/transactionals", { to: "gone@example.org", subject: "Receipt", body: "<p>Thanks</p>" });
    expect(sent.status).toBe(201);
    const status = async () => (await binaryApi(b, token, "GET", `/transactionals/${sent.body.id}`)).body.status;
    for (let i = 0; i < 200 && (await status()) !== "sent"; i++) await Bun.sleep(25);
    const returnPath = signedReturnPath(SECRET, "bounce.example.com", sent.body.id);
    const replies = await deliverInbound(inbound, returnPath, dsn("postfix", { returnPath, to: "gone@example.org", messageId: "<x@example.org>" }));
    expect(replies.data).toMatch(/^250 2\.0\.0 Ok: received as \d+$/);
    expect(await status()).toBe("bounced");
    b.proc.kill();
    expect(await b.output()).toContain('"event":"bounces.inbound_received"');
  } finally {
    b.proc.kill();
  }
}, 30_000);
