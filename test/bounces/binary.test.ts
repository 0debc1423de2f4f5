/**
 * The compiled executable runs the inbound bounce listener in its own thread (a second entry point
 * of the build): it binds, refuses addresses that are not signed return paths, and takes a DSN.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { signedReturnPath } from "@/features/bounces/verp";
import { boot, freshBinary, type Booted } from "../binary";
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
