// A callback written in node: the protocol of docs/reference/admin-api.md (Callbacks)
// with node's own WebSocket (node 22; node 20 with --experimental-websocket).
// Run: CONTROLPLANE_URL=http://127.0.0.1:8081 node --experimental-websocket --test tests/polyglot/callbacks.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";

const ADMIN = process.env.CONTROLPLANE_URL;

async function json(url, method = "GET", body) {
  const answer = await fetch(url, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
  return { status: answer.status, body: answer.status === 204 ? null : await answer.json() };
}

test("node answers a handler's requests over the callback websocket", async () => {
  const { body: session } = await json(`${ADMIN}/api/sessions`, "POST", { name: "node-callbacks" });
  try {
    const route = { method: "POST", path: "/price/{sku}", handler: "price" };
    assert.equal((await json(`${session.admin_url}/routes`, "POST", route)).status, 201);
    const ws = new WebSocket(`${session.admin_url.replace("http", "ws")}/handlers/price/callback?timeout_ms=2000`);
    const registered = new Promise((resolve) => {
      ws.addEventListener("message", (event) => {
        const frame = JSON.parse(event.data);
        if (frame.registered) resolve(frame.registered);
        if (frame.request) {
          const { path_params, json: body } = frame.request;
          const response = { type: "json", status: 201, body: { sku: path_params.sku, total: body.qty * 3 } };
          ws.send(JSON.stringify({ id: frame.id, response }));
        }
      });
    });
    assert.deepEqual(await registered, { session: session.id, handler: "price", timeout_ms: 2000 });
    const answer = await fetch(`${session.mock_url}/price/a1`, { method: "POST", body: JSON.stringify({ qty: 4 }) });
    assert.equal(answer.status, 201);
    assert.deepEqual(await answer.json(), { sku: "a1", total: 12 });
    const closed = new Promise((resolve) => ws.addEventListener("close", resolve));
    ws.close(1000);
    await closed;
    const { body: calls } = await json(`${session.admin_url}/handlers/price/calls`);
    assert.deepEqual(calls.calls[0].response, { status: 201, type: "callback", delay_ms: 0, error: null });
  } finally {
    await fetch(session.admin_url, { method: "DELETE" });
  }
});
