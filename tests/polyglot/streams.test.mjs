// SSE and WebSocket mocks from node: fetch's streamed body and node's own WebSocket
// (node 22; node 20 with --experimental-websocket), each test in its own session.
// Run: CONTROLPLANE_URL=http://127.0.0.1:8081 node --experimental-websocket --test tests/polyglot/streams.test.mjs
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

async function withSession(route, use) {
  const { body: session } = await json(`${ADMIN}/api/sessions`, "POST", { name: "node-streams" });
  try {
    assert.equal((await json(`${session.admin_url}/routes`, "POST", route)).status, 201);
    await use(session);
  } finally {
    await fetch(session.admin_url, { method: "DELETE" });
  }
}

test("node reads an sse stream event by event, a pushed one included", async () => {
  const route = {
    method: "GET", path: "/feed", handler: "feed",
    response: { type: "sse", keep_open: true, events: [{ data: "hello", id: "1" }] },
  };
  await withSession(route, async (session) => {
    const answer = await fetch(`${session.mock_url}/feed`);
    assert.equal(answer.headers.get("content-type"), "text/event-stream");
    const reader = answer.body.getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    async function nextEvent() {
      while (!buffered.includes("\n\n")) {
        const { value, done } = await reader.read();
        assert.equal(done, false, "the stream ended early");
        buffered += decoder.decode(value, { stream: true });
      }
      const end = buffered.indexOf("\n\n") + 2;
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end);
      return event;
    }
    assert.equal(await nextEvent(), "id: 1\ndata: hello\n\n");
    const pushed = await json(`${session.admin_url}/handlers/feed/events`, "POST", { data: { n: 1 } });
    assert.deepEqual(pushed.body, { delivered: 1 });
    assert.equal(await nextEvent(), 'data: {"n":1}\n\n');
    await reader.cancel();
  });
});

test("node talks to a websocket mock: on_connect, a rule, a push", async () => {
  const route = {
    method: "GET", path: "/chat", handler: "chat",
    response: {
      type: "websocket", on_connect: [{ text: "hi" }],
      rules: [{ match: { json_subset: { op: "ping" } }, reply: [{ json: { op: "pong" } }] }],
    },
  };
  await withSession(route, async (session) => {
    const ws = new WebSocket(`${session.mock_url.replace("http", "ws")}/chat`);
    const received = [];
    const waiting = [];
    ws.addEventListener("message", (event) => {
      const next = waiting.shift();
      if (next) next(event.data);
      else received.push(event.data);
    });
    const nextMessage = () =>
      received.length ? Promise.resolve(received.shift()) : new Promise((resolve) => waiting.push(resolve));
    assert.equal(await nextMessage(), "hi");
    ws.send(JSON.stringify({ op: "ping", id: 7 }));
    assert.equal(await nextMessage(), '{"op":"pong"}');
    const pushed = await json(`${session.admin_url}/handlers/chat/messages`, "POST", { text: "pushed" });
    assert.deepEqual(pushed.body, { delivered: 1 });
    assert.equal(await nextMessage(), "pushed");
    const closed = new Promise((resolve) => ws.addEventListener("close", resolve));
    ws.close(1000);
    await closed;
    const { body: frames } = await json(`${session.admin_url}/handlers/chat/messages`);
    const incoming = frames.messages.filter((f) => f.direction === "in" && f.kind === "text");
    assert.deepEqual(incoming.map((f) => f.json), [{ op: "ping", id: 7 }]);
    const { body: calls } = await json(`${session.admin_url}/handlers/chat/calls`);
    assert.equal(calls.calls[0].response.status, 101);
  });
});
