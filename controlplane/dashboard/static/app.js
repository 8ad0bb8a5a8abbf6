// The controlplane dashboard. Plain JavaScript over the public admin API only
// (docs/reference/admin-api.md): every call below is one a test suite could make.
"use strict";

const POLL_MS = 250; // the loop's beat; the journal polls at it only without its stream
const REFRESH_EVERY = 8; // routes, handlers and sessions every 8th beat (2 s)
const JOURNAL_SHOWN = 500; // entries kept in the page
const TOKEN_KEY = "controlplane.admin-token";
// Headers curl sets itself (or that describe the transfer, not the request).
const CURL_SKIP = new Set(["host", "content-length", "transfer-encoding", "connection",
  "x-controlplane-session"]);

const $ = (selector) => document.querySelector(selector);

const state = {
  sessions: [],
  sid: null,
  routes: [],
  handlers: [],
  scenarios: [],
  entries: [], // journal entries, oldest first
  cursor: null, // `after` of the next journal poll
  hits: new Map(), // route id -> journaled hits
  unmatched: new Map(), // seq -> unmatched entry with near misses
  unmatchedCursor: null,
  selected: null,
  tick: 0,
  waitingForToken: false,
};

// ------------------------------------------------------------------ the admin API

class ApiError extends Error {
  constructor(status, body) {
    const detail = body && body.error;
    super(detail ? `${detail.message}${detail.location ? ` (at ${detail.location})` : ""}`
      : `HTTP ${status}`);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let answer;
  try {
    answer = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    banner(`The controlplane server at ${location.host} is unreachable (${error.message}); ` +
      "retrying.");
    throw error;
  }
  if (answer.status === 401) {
    askForToken(token !== null);
    throw new ApiError(401, null);
  }
  banner(null);
  const text = await answer.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!answer.ok) throw new ApiError(answer.status, parsed);
  return parsed;
}

function base() {
  return `/api/sessions/${encodeURIComponent(state.sid)}`;
}

function banner(message) {
  const element = $("#banner");
  element.hidden = message === null;
  element.textContent = message || "";
}

function askForToken(wrong) {
  state.waitingForToken = true;
  const form = $("#token-form");
  if (form.hidden) {
    form.hidden = false;
    $("#token").focus();
  }
  banner(wrong ? "That admin token was refused; enter the right one." : null);
}

$("#token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("#token").value);
  $("#token-form").hidden = true;
  state.waitingForToken = false;
  start();
});

// ------------------------------------------------------------------ rendering helpers

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
  }
  return node;
}

function pretty(value) {
  return JSON.stringify(value, null, 2);
}

function shellQuote(text) {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

function queryString(query) {
  const parts = [];
  for (const [name, values] of Object.entries(query)) {
    for (const value of values) {
      parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
    }
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

function currentSession() {
  return state.sessions.find((s) => s.id === state.sid);
}

// ------------------------------------------------------------------ sessions

async function loadSessions() {
  const { sessions } = await api("GET", "/api/sessions");
  state.sessions = sessions;
  if (!sessions.some((s) => s.id === state.sid) || hashSession() !== state.sid) {
    const wanted = hashSession();
    selectSession(sessions.some((s) => s.id === wanted) ? wanted : sessions[0].id);
  }
  renderSessions();
}

function hashSession() {
  return new URLSearchParams(location.hash.slice(1)).get("session");
}

// A link to another session (`#session=ID`) switches to it.
addEventListener("hashchange", () => {
  const wanted = hashSession();
  if (wanted && state.sessions.some((s) => s.id === wanted)) selectSession(wanted);
  else state.tick = 0; // not known yet: the next poll reloads the list and picks it
});

function renderSessions() {
  const list = $("#sessions");
  list.replaceChildren(...state.sessions.map((s) => el("li", {},
    el("button", {
      class: "session", "data-sid": s.id, "aria-current": String(s.id === state.sid),
      onclick: () => selectSession(s.id),
    }, el("span", { class: "sid" }, s.name ? `${s.name} ` : "", el("code", { text: s.id })),
    el("span", { class: "muted counts" },
      `${s.counts.routes} routes · ${s.counts.requests} requests · ` +
      `${s.counts.unmatched} unmatched`)))));
}

function selectSession(sid) {
  if (sid === state.sid) return;
  Object.assign(state, {
    sid, routes: [], handlers: [], scenarios: [], entries: [], cursor: null,
    hits: new Map(), unmatched: new Map(), unmatchedCursor: null, selected: null,
  });
  history.replaceState(null, "", `#session=${encodeURIComponent(sid)}`);
  stopFeed();
  setFeedMode("connecting");
  rendered.clear();
  stopEditing();
  $("#detail").hidden = true;
  $("#journal").replaceChildren();
  $("#unmatched").replaceChildren();
  renderSessions();
  refreshSession().catch(() => {});
}

// ------------------------------------------------------------------ routes and handlers

async function refreshSession() {
  const sid = state.sid;
  const [routes, handlers, scenarios, recording] = await Promise.all([
    api("GET", `${base()}/routes`),
    api("GET", `${base()}/handlers`),
    api("GET", `${base()}/scenarios`),
    api("GET", `${base()}/recordings`),
  ]);
  if (sid !== state.sid) return;
  renderRecording(recording);
  state.routes = routes.routes;
  state.handlers = handlers.handlers;
  state.scenarios = scenarios.scenarios;
  const session = currentSession();
  $("#session-title").textContent = session && session.name
    ? `${session.name} (${session.id})` : `Session ${sid}`;
  $("#session-mock").textContent = session ? `mock traffic: ${session.mock_url}` : "";
  renderRoutes();
  renderHandlers();
  renderScenarios();
  renderSessions();
}

// Tables are rebuilt only when what they show changed, so that keyboard focus (on a
// Delete button, in the handler filter) survives the polls.
const rendered = new Map();

function unchanged(name, value) {
  const key = JSON.stringify(value);
  if (rendered.get(name) === key) return true;
  rendered.set(name, key);
  return false;
}

function renderRoutes() {
  const hitsOf = state.routes.map((route) => state.hits.get(route.id) || 0);
  if (unchanged("routes", [state.routes, hitsOf, state.scenarios])) return;
  const scenarioState = new Map(state.scenarios.map((s) => [s.name, s.state]));
  const rows = state.routes.map((route) => {
    const hits = state.hits.get(route.id) || 0;
    const left = route.times == null ? "∞" : String(Math.max(route.times - hits, 0));
    let scenario = "";
    if (route.scenario) {
      const { name, required_state: required, new_state: next } = route.scenario;
      scenario = `${name}: ${scenarioState.get(name) || "?"}` +
        (required ? ` (needs ${required})` : "") + (next ? ` → ${next}` : "");
    }
    return el("tr", { "data-route-id": route.id },
      el("td", {}, el("code", { text: route.method })),
      el("td", {}, el("code", { text: route.path ?? `~ ${route.path_regex}` })),
      el("td", { text: route.handler }),
      el("td", { text: String(route.priority) }),
      el("td", { class: "hits", text: String(hits) }),
      el("td", { text: left }),
      el("td", { text: scenario }),
      el("td", { class: "actions" }, el("button", {
        class: "edit", type: "button", "aria-label": `Edit route ${route.id}`,
        onclick: () => editRoute(route),
      }, "Edit"), el("button", {
        class: "delete", type: "button", "aria-label": `Delete route ${route.id}`,
        onclick: () => deleteRoute(route.id),
      }, "Delete")));
  });
  $("#routes tbody").replaceChildren(...rows);
  $("#routes-empty").hidden = rows.length > 0;
}

function renderHandlers() {
  if (unchanged("handlers", state.handlers)) return;
  const rows = state.handlers.map((h) => el("tr", {},
    el("td", {}, el("code", { text: h.name })),
    el("td", { text: String(h.calls) }),
    el("td", { text: String(h.route_ids.length) }),
    el("td", {}, h.response ? el("pre", { class: "code", text: pretty(h.response) })
      : el("span", { class: "muted", text: "none registered (answers 500 no_response)" })),
    el("td", {}, el("button", {
      class: "edit", type: "button", "aria-label": `Edit the response of ${h.name}`,
      onclick: () => editResponse(h),
    }, "Edit"))));
  $("#handlers tbody").replaceChildren(...rows);
  $("#handlers-empty").hidden = rows.length > 0;
  $("#response-form").hidden = rows.length === 0;
  if (unchanged("handler-names", state.handlers.map((h) => h.name))) return;
  const select = $("#filters [name=handler]");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "any"),
    ...state.handlers.map((h) => el("option", { value: h.name }, h.name)));
  select.value = chosen;
  const target = $("#response-form [name=handler]");
  const editingName = target.value;
  target.replaceChildren(...state.handlers.map((h) => el("option", { value: h.name }, h.name)));
  if (editingName) target.value = editingName;
}

function editResponse(handler) {
  const form = $("#response-form");
  form.handler.value = handler.name;
  form.response.value = pretty(handler.response || { type: "json", status: 200, body: {} });
  $("#response-result").textContent = "";
  form.response.focus();
}

$("#response-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const result = $("#response-result");
  let response;
  try {
    response = JSON.parse(form.response.value);
  } catch (error) {
    result.textContent = `Not JSON: ${error.message}`;
    result.className = "error";
    return;
  }
  const name = form.handler.value;
  try {
    await api("PUT", `${base()}/handlers/${encodeURIComponent(name)}/response`, response);
    result.textContent = `Saved the response of ${name}.`;
    result.className = "ok";
    await refreshSession();
  } catch (error) {
    result.textContent = `Refused: ${error.message}`;
    result.className = "error";
  }
});

async function deleteRoute(id) {
  if (!confirm(`Delete route ${id}?`)) return;
  await api("DELETE", `${base()}/routes/${encodeURIComponent(id)}`);
  await refreshSession();
}

// The route being edited (its form saves with PUT), or null (the form adds).
let editing = null;

function editRoute(route) {
  editing = route;
  const form = $("#route-form");
  form.method.value = route.method;
  form.regex.checked = route.path == null;
  form.path.value = route.path ?? route.path_regex;
  form.handler.value = route.handler;
  form.priority.value = String(route.priority);
  form.times.value = route.times == null ? "" : String(route.times);
  form.match.value = route.match ? pretty(route.match) : "";
  form.response.value = route.response ? pretty(route.response) : "";
  $("#route-form-title").textContent = `Edit route ${route.id}`;
  $("#route-submit").textContent = "Save route";
  $("#route-cancel").hidden = false;
  $("#route-result").textContent = "";
  form.method.focus();
}

function stopEditing() {
  editing = null;
  $("#route-form-title").textContent = "Add a route";
  $("#route-submit").textContent = "Add route";
  $("#route-cancel").hidden = true;
}

$("#route-cancel").addEventListener("click", stopEditing);

$("#route-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const result = $("#route-result");
  // An edit keeps what the form does not show (scenario, id_header, ...).
  const route = { ...(editing || {}) };
  delete route.path;
  delete route.path_regex;
  delete route.times;
  delete route.match;
  delete route.response;
  Object.assign(route, {
    method: form.method.value.trim(),
    [form.regex.checked ? "path_regex" : "path"]: form.path.value.trim(),
    handler: form.handler.value.trim(),
    priority: Number(form.priority.value || 5),
  });
  try {
    if (form.times.value) route.times = Number(form.times.value);
    if (form.match.value.trim()) route.match = JSON.parse(form.match.value);
    if (form.response.value.trim()) route.response = JSON.parse(form.response.value);
  } catch (error) {
    result.textContent = `Not JSON: ${error.message}`;
    result.className = "error";
    return;
  }
  try {
    if (editing) {
      await api("PUT", `${base()}/routes/${encodeURIComponent(editing.id)}`, route);
      result.textContent = `Saved route ${editing.id}.`;
      stopEditing();
    } else {
      const { routes } = await api("POST", `${base()}/routes`, route);
      result.textContent = `Added route ${routes[0].id}.`;
    }
    result.className = "ok";
    await refreshSession();
  } catch (error) {
    result.textContent = `Refused: ${error.message}`;
    result.className = "error";
  }
});

// ------------------------------------------------------------------ scenarios

function renderScenarios() {
  if (unchanged("scenarios", state.scenarios)) return;
  const rows = state.scenarios.map((s) => {
    const states = s.possible_states.includes(s.state)
      ? s.possible_states : [s.state, ...s.possible_states];
    const select = el("select", {
      "aria-label": `State of scenario ${s.name}`,
      onchange: (event) => setScenarioState(s.name, event.target.value),
    }, ...states.map((name) => el("option", { value: name }, name)));
    select.value = s.state;
    return el("tr", { "data-scenario": s.name },
      el("td", {}, el("code", { text: s.name })),
      el("td", {}, select),
      el("td", { class: "muted", text: s.route_ids.join(", ") }));
  });
  $("#scenarios tbody").replaceChildren(...rows);
  $("#scenarios-empty").hidden = rows.length > 0;
  $("#scenarios-reset").disabled = rows.length === 0;
}

async function scenarioAction(method, path, body, done) {
  const result = $("#scenario-result");
  try {
    await api(method, `${base()}${path}`, body);
    result.textContent = done;
    result.className = "ok";
  } catch (error) {
    result.textContent = `Refused: ${error.message}`;
    result.className = "error";
  }
  await refreshSession();
}

function setScenarioState(name, value) {
  scenarioAction("PUT", `/scenarios/${encodeURIComponent(name)}/state`, { state: value },
    `Scenario ${name} is now in state ${value}.`);
}

$("#scenarios-reset").addEventListener("click", () => {
  scenarioAction("POST", "/scenarios/reset", undefined, "Every scenario is back to Started.");
});

// ------------------------------------------------------------------ recording

function renderRecording(recording) {
  const recordingNow = recording.status === "recording";
  $("#recording-status").textContent = recordingNow
    ? `Recording to ${recording.target}: ${recording.captured} exchange` +
      `${recording.captured === 1 ? "" : "s"} captured.`
    : "Not recording.";
  $("#recording-start").disabled = recordingNow;
  $("#recording-stop").disabled = !recordingNow;
}

async function recordingAction(method, path, body, describe) {
  const result = $("#recording-result");
  try {
    const answer = await api(method, `${base()}${path}`, body);
    result.replaceChildren(...describe(answer));
    result.className = "ok";
  } catch (error) {
    result.textContent = `Refused: ${error.message}`;
    result.className = "error";
  }
  await refreshSession();
}

$("#recording-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const target = event.target.target.value.trim();
  recordingAction("POST", "/recordings", { target }, () => [`Recording to ${target}.`]);
});

$("#recording-stop").addEventListener("click", () => {
  recordingAction("POST", "/recordings/stop", undefined, ({ routes, skipped }) => [
    el("p", { text: `Stopped: ${routes.length} route${routes.length === 1 ? "" : "s"} made` +
      `, ${skipped.length} exchange${skipped.length === 1 ? "" : "s"} skipped.` }),
    ...skipped.map((s) => el("p", { class: "muted" },
      el("code", { text: `${s.method} ${s.path}` }), `: ${s.reason}`)),
  ]);
});

// ------------------------------------------------------------------ the journal

// The page loads the newest entries once, then follows the journal's event stream
// (`GET .../requests/stream?after=<seq>`). It reads the stream with fetch() because
// EventSource cannot send the admin token's header. When the stream fails, the page
// polls `?after=<seq>` at every beat instead, says so, and tries the stream again
// every REFRESH_EVERY beats. Either way an entry is added once (by its `seq`).

async function pollJournal() {
  const sid = state.sid;
  // The first load takes the newest entries; then `after` continues from the last seen.
  let path = state.cursor === null
    ? `${base()}/requests?limit=${JOURNAL_SHOWN}`
    : `${base()}/requests?after=${state.cursor}&limit=${JOURNAL_SHOWN}`;
  for (let pages = 0; pages < 20; pages += 1) {
    const page = await api("GET", path);
    if (sid !== state.sid) return;
    if (state.cursor === null) state.cursor = 0;
    addEntries(page.requests);
    if (page.next == null) break;
    path = `${base()}/requests?after=${page.next}&limit=${JOURNAL_SHOWN}`;
  }
  await pollUnmatched(sid);
}

const feed = { controller: null, mode: null };

const FEED_STATUS = {
  connecting: () => "Connecting to the journal's event stream…",
  stream: () => "Live: new requests arrive over the journal's event stream.",
  paused: () => "Paused: tick live to catch up and follow again.",
  polling: (reason) => `Polling every ${POLL_MS} ms: the journal's event stream failed ` +
    `(${reason}); trying it again every ${POLL_MS * REFRESH_EVERY / 1000} s.`,
};

function setFeedMode(mode, reason = "") {
  feed.mode = mode;
  document.body.dataset.journal = mode;
  $("#journal-status").textContent = FEED_STATUS[mode](reason);
}

function stopFeed() {
  if (feed.controller !== null) feed.controller.abort();
  feed.controller = null;
}

async function openFeed() {
  stopFeed();
  const sid = state.sid;
  const controller = new AbortController();
  feed.controller = controller;
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    const answer = await fetch(`${base()}/requests/stream?after=${state.cursor}`,
      { headers, signal: controller.signal, cache: "no-store" });
    if (answer.status === 401) askForToken(token !== null);
    if (!answer.ok || !answer.body) throw new Error(`HTTP ${answer.status}`);
    setFeedMode("stream");
    await readEvents(answer.body, (entries) => {
      if (sid !== state.sid) return;
      addEntries(entries);
      if (entries.some((e) => !e.matched && !e.proxied)) pollUnmatched(sid).catch(() => {});
    });
    throw new Error("the server ended it");
  } catch (error) {
    if (controller.signal.aborted) return; // closed by the page: a session switch, pause
    feed.controller = null;
    if (sid === state.sid) setFeedMode("polling", error.message);
  }
}

// The event-stream format, as the server writes it: blocks of `field: value` lines
// separated by a blank line; `:` starts a comment (the heartbeat); several `data`
// lines join with newlines. Each event's data is one journal entry.
async function readEvents(body, deliver) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const blocks = buffer.split("\n\n");
    buffer = blocks.pop();
    const entries = [];
    for (const block of blocks) {
      let data = null;
      for (const line of block.split("\n")) {
        if (!line.startsWith("data:")) continue; // a comment, `id` (the entry's seq too)
        const text = line.slice(line.startsWith("data: ") ? 6 : 5);
        data = data === null ? text : `${data}\n${text}`;
      }
      if (data !== null) entries.push(JSON.parse(data));
    }
    if (entries.length) deliver(entries);
  }
}

async function followJournal() {
  if (!$("#filters").live.checked) {
    if (feed.mode !== "paused") {
      stopFeed();
      setFeedMode("paused");
    }
    return;
  }
  if (feed.mode === "polling") {
    await pollJournal();
    if (state.tick % REFRESH_EVERY === 0) openFeed();
  } else if (feed.controller === null) {
    if (feed.mode === "paused") await pollJournal(); // catch up on what came meanwhile
    setFeedMode("connecting");
    openFeed();
  }
}

async function pollUnmatched(sid) {
  const after = state.unmatchedCursor === null ? "" : `after=${state.unmatchedCursor}&`;
  const page = await api("GET", `${base()}/requests/unmatched?${after}limit=${JOURNAL_SHOWN}`);
  if (sid !== state.sid) return;
  if (state.unmatchedCursor === null) state.unmatchedCursor = 0;
  for (const entry of page.requests) {
    if (entry.seq <= state.unmatchedCursor) continue; // two reads overlapped
    state.unmatched.set(entry.seq, entry);
    state.unmatchedCursor = entry.seq;
    $("#unmatched").prepend(unmatchedItem(entry));
  }
  $("#unmatched-empty").hidden = state.unmatched.size > 0;
  $("#unmatched-count").textContent = state.unmatched.size ? String(state.unmatched.size) : "";
}

function addEntries(received) {
  // The stream and a poll may overlap (while the stream reconnects): each entry once.
  const entries = received.filter((e) => e.seq > state.cursor);
  if (!entries.length) return;
  state.cursor = entries[entries.length - 1].seq;
  const list = $("#journal");
  for (const entry of entries) {
    state.entries.push(entry);
    if (entry.route_id) state.hits.set(entry.route_id, (state.hits.get(entry.route_id) || 0) + 1);
    list.prepend(journalItem(entry));
  }
  while (state.entries.length > JOURNAL_SHOWN) {
    state.entries.shift();
    list.lastElementChild.remove();
  }
  $("#journal-count").textContent = String(state.entries.length);
  applyFilters();
  renderRoutes();
}

function summary(entry) {
  return [
    el("code", { class: "method", text: entry.method }),
    el("code", { class: "path", text: entry.path + queryString(entry.query) }),
    el("span", { class: `status s${String(entry.response.status)[0]}`,
      text: String(entry.response.status) }),
    el("span", { class: "muted", text: entry.handler || (entry.proxied ? "proxied" : "unmatched") }),
    el("time", { class: "muted", text: entry.time.slice(11, 23) }),
  ];
}

function journalItem(entry) {
  return el("li", { "data-seq": String(entry.seq), class: entry.matched ? "matched" : "unmatched" },
    el("button", { class: "entry", type: "button", onclick: () => openEntry(entry.seq) },
      ...summary(entry)));
}

function unmatchedItem(entry) {
  return el("li", { "data-seq": String(entry.seq), class: "unmatched" },
    el("button", { class: "entry", type: "button", onclick: () => openEntry(entry.seq) },
      ...summary(entry)),
    nearMisses(entry.near_misses));
}

function nearMisses(misses) {
  if (!misses.length) return el("p", { class: "muted", text: "No route came close." });
  return el("div", { class: "near-misses" }, ...misses.map((miss) => el("div", { class: "miss" },
    el("div", {}, "Near miss: route ", el("code", { text: miss.route_id }), " (handler ",
      el("code", { text: miss.handler }), `), ${miss.diffs.length} difference` +
      (miss.diffs.length === 1 ? "" : "s")),
    el("table", { class: "diff" },
      el("thead", {}, el("tr", {}, el("th", {}, "Field"), el("th", {}, "Expected"),
        el("th", {}, "Actual"))),
      el("tbody", {}, ...miss.diffs.map((d) => el("tr", {},
        el("td", {}, el("code", { text: d.field })),
        el("td", { class: "expected" }, el("code", { text: d.expected })),
        el("td", { class: "actual" }, el("code", { text: d.actual })))))))));
}

function applyFilters() {
  const form = $("#filters");
  const handler = form.handler.value;
  const matched = form.matched.value;
  const method = form.method.value.trim().toUpperCase();
  const path = form.path.value.trim();
  const bySeq = new Map(state.entries.map((e) => [String(e.seq), e]));
  let shown = 0;
  for (const item of $("#journal").children) {
    const entry = bySeq.get(item.dataset.seq);
    const keep = entry !== undefined
      && (!handler || entry.handler === handler)
      && (!matched || String(entry.matched) === matched)
      && (!method || entry.method === method)
      && (!path || entry.path.includes(path));
    item.hidden = !keep;
    if (keep) shown += 1;
  }
  $("#journal-empty").hidden = shown > 0;
  $("#journal-empty").textContent = state.entries.length ? "No request passes these filters."
    : "No requests yet.";
}

$("#filters").addEventListener("input", applyFilters);
$("#filters").addEventListener("change", applyFilters);
$("#filters").addEventListener("submit", (event) => event.preventDefault());

// ------------------------------------------------------------------ one request

function openEntry(seq) {
  const entry = state.entries.find((e) => e.seq === seq) || state.unmatched.get(seq);
  if (!entry) return;
  state.selected = entry;
  $("#detail").hidden = false;
  $("#detail-title").textContent = `${entry.method} ${entry.path}`;
  $("#curl").textContent = curlCommand(entry);
  const body = entry.json !== undefined ? pretty(entry.json)
    : entry.body ?? `(${entry.body_size} bytes, not text; base64: ${entry.body_base64})`;
  const response = entry.response;
  const sections = [
    section("Request", el("dl", {},
      el("dt", {}, "Time"), el("dd", { text: entry.time }),
      el("dt", {}, "Handler"), el("dd", { text: entry.handler || "—" }),
      el("dt", {}, "Route"), el("dd", { text: entry.route_id || "none matched" }),
      el("dt", {}, "Path parameters"), el("dd", { text: JSON.stringify(entry.path_params) }))),
    section("Headers", el("table", { class: "kv" }, ...entry.headers.map(([name, value]) =>
      el("tr", {}, el("th", { text: name }), el("td", {}, el("code", { text: value })))))),
    section("Query", Object.keys(entry.query).length
      ? el("table", { class: "kv" }, ...Object.entries(entry.query).map(([name, values]) =>
        el("tr", {}, el("th", { text: name }), el("td", {}, el("code", { text: values.join(", ") })))))
      : el("p", { class: "muted", text: "none" })),
    section(`Body${entry.body_truncated ? " (cut: the journal keeps the first bytes)" : ""}`,
      entry.body_size ? el("pre", { class: "code", id: "detail-request-body", text: body })
        : el("p", { class: "muted", text: "empty" })),
    section("Response", el("dl", {},
      el("dt", {}, "Status"), el("dd", { text: String(response.status) }),
      el("dt", {}, "Type"), el("dd", { text: response.type }),
      el("dt", {}, "Delay"), el("dd", { text: `${response.delay_ms} ms` }),
      response.error ? el("dt", {}, "Error") : null,
      response.error ? el("dd", { text: response.error }) : null)),
  ];
  const unmatched = state.unmatched.get(seq);
  if (unmatched) sections.push(section("Near misses", nearMisses(unmatched.near_misses)));
  $("#detail-body").replaceChildren(...sections);
  $("#detail-close").focus();
}

function section(title, content) {
  return el("section", {}, el("h3", { text: title }), content);
}

function curlCommand(entry) {
  const session = currentSession();
  const url = `${session.mock_url.replace(/\/$/, "")}${entry.path}${queryString(entry.query)}`;
  const parts = ["curl", "-X", entry.method, shellQuote(url)];
  for (const [name, value] of entry.headers) {
    if (!CURL_SKIP.has(name.toLowerCase())) parts.push("-H", shellQuote(`${name}: ${value}`));
  }
  if (entry.body_size && entry.body !== null) {
    parts.push("--data-binary", shellQuote(entry.body));
  } else if (entry.body_size) {
    // Not text: decode it in the shell and send it as it came.
    return `echo ${entry.body_base64} | base64 -d | ${parts.join(" ")} --data-binary @-`;
  }
  return parts.join(" ");
}

$("#copy-curl").addEventListener("click", async () => {
  const text = $("#curl").textContent;
  try {
    await navigator.clipboard.writeText(text);
    $("#copy-curl").textContent = "Copied";
  } catch {
    // No clipboard (an insecure origin): select the command to copy by hand.
    getSelection().selectAllChildren($("#curl"));
    $("#copy-curl").textContent = "Selected: press Ctrl+C";
  }
  setTimeout(() => { $("#copy-curl").textContent = "Copy as curl"; }, 2000);
});

$("#make-route").addEventListener("click", () => {
  stopEditing();
  const entry = state.selected;
  const form = $("#route-form");
  form.method.value = entry.method;
  form.regex.checked = false;
  form.path.value = entry.path;
  form.handler.value = entry.handler ||
    `${entry.method.toLowerCase()}${entry.path.replace(/[^A-Za-z0-9]+/g, "_")}`.replace(/_$/, "");
  const query = Object.fromEntries(Object.entries(entry.query).map(([k, v]) => [k, v[0]]));
  form.match.value = Object.keys(query).length ? JSON.stringify({ query }) : "";
  form.response.value = pretty({ type: "json", status: 200, body: {} });
  showTab("routes");
  form.handler.focus();
});

$("#detail-close").addEventListener("click", () => { $("#detail").hidden = true; });
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") $("#detail").hidden = true;
});

// ------------------------------------------------------------------ tabs and the loop

function showTab(name) {
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
  }
  for (const panel of document.querySelectorAll(".tab")) {
    panel.hidden = panel.id !== `tab-${name}`;
  }
}

for (const tab of document.querySelectorAll("[role=tab]")) {
  tab.addEventListener("click", () => showTab(tab.dataset.tab));
}

let timer = null;

async function tick() {
  timer = null;
  if (state.waitingForToken) {
    stopFeed();
    return;
  }
  try {
    if (state.tick % REFRESH_EVERY === 0) {
      await loadSessions();
      await refreshSession();
    }
    if (state.cursor === null) await pollJournal(); // the newest page, once per session
    await followJournal();
    state.tick += 1;
  } catch (error) {
    if (!(error instanceof ApiError) && !(error instanceof TypeError)) console.error(error);
    state.tick = 0; // after an outage, reload everything
  }
  if (!state.waitingForToken) timer = setTimeout(tick, POLL_MS);
}

async function start() {
  if (timer !== null) clearTimeout(timer);
  state.tick = 0;
  try {
    const health = await api("GET", "/health");
    $("#version").textContent = `v${health.version}`;
  } catch {
    // The banner says so; the loop keeps trying.
  }
  tick();
}

start();
