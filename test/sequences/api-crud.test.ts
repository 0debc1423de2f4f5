/**
 * §6 sequences over real HTTP: CRUD and shapes, validation, permissions, channels, references.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestChannel, createTestToken } from "../fixtures";
import { startTestServer, type TestServer } from "../harness";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  createTestChannel(server.deps, "Other");
});
afterAll(() => server.stop());

const create = (body: Record<string, unknown>, token?: string) => server.request("POST", "/api/v1/sequences", { body: { channel: "default", ...body }, token });

describe("sequences", () => {
  test("create answers 201 with the object and its root entry_point; fields wrapped or top-level", async () => {
    const res = await create({ sequence: { label: "Onboarding", init_tag: "free-trial" }, track_clicks: false });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      channel: "default",
      label: "Onboarding",
      active: false,
      track_opens: true,
      track_clicks: false,
      use_any_email_server: true,
      email_server_ids: [],
      init_tag: "free-trial",
      init_segment_id: null,
      subscribers_count: 0,
    });
    const steps = await server.request("GET", `/api/v1/sequences/${res.body.id}/steps`);
    expect(steps.body.data).toEqual([expect.objectContaining({ id: res.body.entry_point_id, action: "entry_point", parent_id: null, branch: null, position: 0, delay: null })]);
    const got = await server.request("GET", `/api/v1/sequences/${res.body.id}.json?include_steps=true`);
    expect(got.status).toBe(200);
    expect(got.body.steps.map((s: any) => s.action)).toEqual(["entry_point"]);
    expect((await server.request("GET", `/api/v1/sequences/${res.body.id}`)).body.steps).toBeUndefined();
  });

  test("list is offset-paginated over T; update and delete", async () => {
    const a = await create({ label: "A" });
    await server.request("POST", "/api/v1/sequences", { body: { channel: "other", label: "B" } });
    const list = await server.request("GET", "/api/v1/sequences?limit=250");
    expect(list.status).toBe(200);
    expect(list.body.total).toBe(list.body.data.length);
    expect(list.body.data.map((s: any) => s.channel)).toContain("other");
    const patched = await server.request("PATCH", `/api/v1/sequences/${a.body.id}`, { body: { active: true, label: "A2" } });
    expect(patched.body).toMatchObject({ label: "A2", active: true });
    await server.request("POST", `/api/v1/sequences/${a.body.id}/steps`, { body: { action: "delay", delay: 60 } });
    const del = await server.request("DELETE", `/api/v1/sequences/${a.body.id}`);
    expect(del.body).toEqual({ message: "Sequence deleted successfully" });
    expect((await server.request("GET", `/api/v1/sequences/${a.body.id}`)).body).toEqual({ error: "Sequence not found" });
    expect(server.sql("SELECT count(*) AS n FROM sequence_steps WHERE sequence_id = ?", a.body.id)[0].n).toBe(0);
  });

  test("validation: label, init_tag, foreign segment and server ids", async () => {
    const other = await server.request("POST", "/api/v1/segments", { body: { channel: "other", name: "Elsewhere" } });
    const res = await create({ label: "x".repeat(256), init_tag: "a,b", init_segment_id: other.body.id, email_server_ids: [999] });
    expect(res.status).toBe(422);
    expect(Object.keys(res.body.errors).sort()).toEqual(["init_tag", "label"]);
    const refs = await create({ label: "Refs", init_segment_id: other.body.id, email_server_ids: [999] });
    expect(refs.status).toBe(422);
    expect(refs.body.errors).toEqual({ init_segment_id: ["does not exist in this channel"], "email_server_ids.0": ["does not exist in this channel"] });
    expect((await create({})).body.errors).toEqual({ label: ["can't be blank"] });
  });

  test("a segment used as init_segment_id is in use", async () => {
    const segment = await server.request("POST", "/api/v1/segments", { body: { channel: "default", name: "Trial" } });
    const s = await create({ label: "From segment", init_segment_id: segment.body.id });
    const del = await server.request("DELETE", `/api/v1/segments/${segment.body.id}`);
    expect(del.status).toBe(422);
    expect(del.body.error).toBe(`Segment is in use by: sequence ${s.body.id}`);
  });

  test("permissions: sequences_write missing → 403; two-permission routes name both", async () => {
    const reader = createTestToken(server.deps, { name: "reader", permissions: ["sequences_read", "sequences_write"], scope: "channels", channels: ["default"] });
    const s = await create({ label: "Perm" });
    const add = await server.request("POST", `/api/v1/sequences/${s.body.id}/add_subscriber`, { token: reader, body: { email: "p@example.com" } });
    expect(add.status).toBe(403);
    expect(add.body).toMatchObject({ required_permission: "subscribers_write", required_permissions: ["sequences_write", "subscribers_write"] });
    const list = await server.request("GET", `/api/v1/sequences/${s.body.id}/list_subscribers`, { token: reader });
    expect(list.body).toMatchObject({ required_permission: "subscribers_read", required_permissions: ["sequences_read", "subscribers_read"] });
    const readOnly = createTestToken(server.deps, { name: "ro", permissions: ["sequences_read"], scope: "channels", channels: ["default"] });
    const write = await create({ label: "No" }, readOnly);
    expect(write.status).toBe(403);
    expect(write.body.required_permission).toBe("sequences_write");
  });

  test("a create needs exactly one target channel", async () => {
    const res = await server.request("POST", "/api/v1/sequences", { body: { label: "Where?" } });
    expect(res.status).toBe(422);
    expect(server.sql("SELECT count(*) AS n FROM sequences WHERE label = 'Where?'")[0].n).toBe(0);
  });

  test("another channel's sequence is 404 to a token of this one", async () => {
    const theirs = await server.request("POST", "/api/v1/sequences", { body: { channel: "other", label: "Theirs" } });
    const mine = createTestToken(server.deps, { name: "mine", permissions: ["sequences_read", "sequences_write"], scope: "channels", channels: ["default"] });
    for (const [method, path] of [["GET", ""], ["PATCH", ""], ["DELETE", ""], ["GET", "/steps"]] as const) {
      const res = await server.request(method, `/api/v1/sequences/${theirs.body.id}${path}`, { token: mine, body: method === "PATCH" ? { label: "x" } : undefined });
      expect([res.status, res.body]).toEqual([404, { error: "Sequence not found" }]);
    }
  });
});
