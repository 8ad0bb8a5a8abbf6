// WireMock's Node clients (`wiremock-rest-client`, `wiremock-captain`) against a
// controlplane session each: register stubs, hit the mock port, verify, list, remove.
// Run by tests/test_wiremock_polyglot.py with CONTROLPLANE_URL (the admin URL) and
// WIREMOCK_CLIENTS (the directory whose node_modules holds package-lock.json's packages).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import path from "node:path";

const ADMIN = process.env.CONTROLPLANE_URL;
const require = createRequire(path.join(process.env.WIREMOCK_CLIENTS, "package.json"));
const { WireMockRestClient } = require("wiremock-rest-client");
const { WireMock } = require("wiremock-captain");

async function session(name) {
  const answer = await fetch(`${ADMIN}/api/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
  });
  assert.equal(answer.status, 201);
  return await answer.json();
}

async function drop(created) {
  await fetch(`${ADMIN}/api/sessions/${created.id}`, { method: "DELETE" });
}

test("wiremock-rest-client registers, verifies, lists and removes", async () => {
  const created = await session("wiremock-rest-client");
  try {
    // The client resolves `__admin/` against its base: the session's dialect.
    const wm = new WireMockRestClient(`${created.admin_url}/`, { logLevel: "silent" });
    const stub = await wm.mappings.createMapping({
      request: { method: "GET", urlPath: "/rest", queryParameters: { q: { equalTo: "1" } } },
      response: { status: 200, jsonBody: { from: "rest" } },
      metadata: { client: "rest" },
    });
    assert.ok(stub.id);
    const other = await wm.mappings.createMapping({
      request: { method: "POST", url: "/rest/other" },
      response: { status: 201 },
    });
    for (let i = 0; i < 2; i++) {
      const answer = await fetch(`${created.mock_url}/rest?q=1`);
      assert.deepEqual(await answer.json(), { from: "rest" });
    }
    const missed = await fetch(`${created.mock_url}/rest?q=2`);
    assert.equal(missed.status, 404);
    assert.match(await missed.text(), /Request was not matched/);

    const count = await wm.requests.getCount({ method: "GET", urlPath: "/rest" });
    assert.equal(count.count, 3);
    const found = await wm.requests.findRequests({ method: "GET", url: "/rest?q=1" });
    assert.equal(found.requests.length, 2);
    const all = await wm.requests.getAllRequests();
    assert.equal(all.meta.total, 3);
    assert.equal((await wm.requests.getUnmatchedRequests()).requests.length, 1);

    const listed = await wm.mappings.getAllMappings();
    assert.deepEqual(listed.mappings.map((m) => m.id).sort(), [stub.id, other.id].sort());
    assert.equal((await wm.mappings.getMapping(stub.id)).request.urlPath, "/rest");

    const removed = await wm.requests.removeRequestsByMetadata({
      matchesJsonPath: { expression: "$.client", equalTo: "rest" },
    });
    assert.equal(removed.serveEvents.length, 2);
    await wm.mappings.removeByMetaData({ matchesJsonPath: "$.client" });
    await wm.mappings.deleteMapping(other.id);
    assert.deepEqual((await wm.mappings.getAllMappings()).mappings, []);
  } finally {
    await drop(created);
  }
});

test("wiremock-captain registers, verifies, lists and removes", async () => {
  const created = await session("wiremock-captain");
  try {
    const wm = new WireMock(`${created.admin_url}/`);
    const stub = await wm.register(
      { method: "POST", endpoint: "/captain", body: { name: "Whiskers" }, metadata: { c: "cap" } },
      { status: 201, body: { ok: true } },
    );
    assert.ok(stub.id);
    await wm.register({ method: "GET", endpoint: "/captain/kept" }, { status: 200, body: "kept" });
    const answer = await fetch(`${created.mock_url}/captain`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "Whiskers" }),
    });
    assert.equal(answer.status, 201);
    assert.deepEqual(await answer.json(), { ok: true });
    const missed = await fetch(`${created.mock_url}/captain`, { method: "POST", body: "{}" });
    assert.equal(missed.status, 404);

    const calls = await wm.getRequestsForAPI("POST", "/captain");
    assert.equal(calls.length, 2);
    assert.equal((await wm.getUnmatchedRequests()).length, 1);
    assert.equal((await wm.getAllMappings()).length, 2);
    assert.equal((await wm.getMapping(stub.id)).id, stub.id);
    const byMetadata = await wm.findMappingByMetadata({ expression: "$.c", equalTo: "cap" }, "matchesJsonPath");
    assert.deepEqual(byMetadata.map((m) => m.id), [stub.id]);

    // It parses the answer as JSON: `{}`, not an empty body.
    assert.deepEqual(
      await wm.removeMappingByMetadata({ expression: "$.c", equalTo: "cap" }, "matchesJsonPath"),
      {},
    );
    assert.equal((await wm.getAllMappings()).length, 1);
    await wm.clearAll();
    assert.deepEqual(await wm.getAllMappings(), []);
    assert.deepEqual(await wm.getAllRequests(), []);
  } finally {
    await drop(created);
  }
});
