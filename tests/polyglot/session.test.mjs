// A node test on a shared controlplane: its own session, a route, calls, a verify.
// Run: CONTROLPLANE_URL=http://127.0.0.1:8081 node --test tests/polyglot/
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

test("a node session sees only its own calls", async () => {
  const { body: session } = await json(`${ADMIN}/api/sessions`, "POST", { name: "node" });
  try {
    const route = {
      method: "POST", path: "/who", handler: "who",
      response: { type: "json", body: { from: "node" } },
    };
    assert.equal((await json(`${session.admin_url}/routes`, "POST", route)).status, 201);
    for (let i = 0; i < 3; i++) {
      const answer = await json(`${session.mock_url}/who`, "POST", { i });
      assert.deepEqual(answer.body, { from: "node" });
    }
    const { body: calls } = await json(`${session.admin_url}/handlers/who/calls`);
    assert.deepEqual(calls.calls.map((c) => c.json.i), [0, 1, 2]);
    const verify = await json(`${session.admin_url}/handlers/who/verify`, "POST", { times: 1, json: { i: 2 } });
    assert.equal(verify.body.ok, true, verify.body.message);
  } finally {
    await fetch(session.admin_url, { method: "DELETE" });
  }
});
