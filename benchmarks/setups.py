"""What each scenario registers: route lists and the servers that carry them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness import Proc, Procs, bare_argv, call, controlplane_argv, expect

ROUTES = 10_000
OK_BODY = {"ok": True}
JSON_OK = {"type": "json", "body": OK_BODY}
SESSIONS = 100
#: The conditions scenario's request (wrk sends the same through lua/conditions.lua).
COND_PATH = "/orders?region=eu&debug=0"
COND_BODY = b'{"customer":{"id":42,"tier":"gold"},"items":[{"sku":"a1","qty":2}],"note":"bench"}'
COND_HEADERS = {
    "Content-Type": "application/json",
    "X-Tenant": "acme",
    "Authorization": "Bearer bench-token",
}


def exact_routes(count: int = ROUTES) -> list[dict[str, Any]]:
    """`GET /items/{i}`, each its own handler with an inline response."""
    return [
        {"method": "GET", "path": f"/items/{i}", "handler": f"h{i}", "response": JSON_OK}
        for i in range(count)
    ]


def template_routes(count: int = ROUTES) -> list[dict[str, Any]]:
    """`GET /svc{i}/items/{id}`: a static segment per route, then a parameter."""
    return [
        {"method": "GET", "path": f"/svc{i}/items/{{id}}", "handler": f"t{i}", "response": JSON_OK}
        for i in range(count)
    ]


def condition_routes() -> list[dict[str, Any]]:
    """Three decoys (other tenants) declared first, then the route the request matches."""
    routes = []
    for tenant in ("globex", "initech", "umbrella", "acme"):
        routes.append(
            {
                "method": "POST",
                "path": "/orders",
                "handler": f"orders_{tenant}",
                "match": {
                    "headers": {"X-Tenant": tenant, "Authorization": {"starts_with": "Bearer "}},
                    "query": {"region": "eu", "dry_run": {"absent": True}},
                    "json_subset": {"customer": {"tier": "gold"}},
                },
                "response": {"type": "json", "status": 201, "body": OK_BODY},
            }
        )
    return routes


def plain_post_route() -> dict[str, Any]:
    """The conditions scenario's POST answered by one route that asks nothing of it: the
    floor the conditions are measured from."""
    route = condition_routes()[-1]
    return {**route, "handler": "orders", "match": {}}


def one_route(path: str = "/hello") -> dict[str, Any]:
    return {"method": "GET", "path": path, "handler": "hello", "response": JSON_OK}


def register(admin_url: str, routes: Any, session: str | None = None) -> None:
    base = admin_url + ("/api" if session is None else f"/api/sessions/{session}")
    expect(201, "POST", base + "/routes", routes)


class Target:
    """One thing wrk loads: a server, a path, optional lua script, what status it expects."""

    def __init__(
        self,
        label: str,
        server: Proc,
        path: str,
        *,
        script: str | None = None,
        status: int = 200,
        probe: tuple[str, bytes | None, dict[str, str] | None] = ("GET", None, None),
    ) -> None:
        self.label = label
        self.server = server
        self.url = server.mock_url + path
        self.script = script
        self.status = status
        self.probe = probe

    def check(self) -> None:
        """One request by hand before any load: the scenario answers what it should."""
        method, body, headers = self.probe
        got, data = call(method, self.url, body, headers=headers)
        if got != self.status:
            raise RuntimeError(f"{self.label}: {self.url} answered {got}: {data[:300]!r}")


def make_sessions(admin_url: str) -> None:
    """Sessions `bench1..bench100`, each with `GET /hello` (what `lua/sessions.lua` loads)."""
    for i in range(1, SESSIONS + 1):
        expect(201, "POST", admin_url + "/api/sessions", {"id": f"bench{i}"})
        register(admin_url, one_route(), session=f"bench{i}")


#: The matrix's servers: name -> (its argv, what is registered on it once ready).
SERVERS: dict[str, tuple[Callable[[], list[str]], Callable[[str], None] | None]] = {
    "bare": (bare_argv, None),
    "bare_app": (lambda: bare_argv("app"), None),
    "cp1": (controlplane_argv, lambda admin: register(admin, one_route())),
    "cp_exact": (controlplane_argv, lambda admin: register(admin, exact_routes())),
    "cp_template": (controlplane_argv, lambda admin: register(admin, template_routes())),
    "cp_cond": (controlplane_argv, lambda admin: register(admin, condition_routes())),
    "cp_post": (controlplane_argv, lambda admin: register(admin, plain_post_route())),
    "cp_joff": (
        lambda: controlplane_argv("--journal-size", "1"),
        lambda admin: register(admin, one_route()),
    ),
    "cp_sessions": (controlplane_argv, make_sessions),
}

_POST = ("POST", COND_BODY, COND_HEADERS)
_LAST = ROUTES - 1
#: The matrix's targets, in the order they are reported: label -> (server, path, options).
TARGETS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "bare": ("bare", "/hello", {}),
    "bare_app": ("bare_app", "/hello", {}),
    "bare_post": ("bare", COND_PATH, {"script": "conditions.lua", "probe": _POST}),
    "cp_1_route": ("cp1", "/hello", {}),
    "cp_10k_exact": ("cp_exact", f"/items/{_LAST}", {}),
    "cp_10k_template": ("cp_template", f"/svc{_LAST}/items/42", {}),
    "cp_10k_template_ids": (
        "cp_template",
        f"/svc{_LAST}/items/1",
        {"script": "template_ids.lua"},
    ),
    "cp_conditions": (
        "cp_cond",
        COND_PATH,
        {"script": "conditions.lua", "probe": _POST, "status": 201},
    ),
    "cp_post_plain": (
        "cp_post",
        COND_PATH,
        {"script": "conditions.lua", "probe": _POST, "status": 201},
    ),
    "cp_journal_off": ("cp_joff", "/hello", {}),
    "cp_100_sessions": ("cp_sessions", "/_s/bench1/hello", {"script": "sessions.lua"}),
    "cp_unmatched_10k": ("cp_exact", f"/items/{_LAST}x", {"status": 404}),
    "cp_unmatched_10k_paths": (
        "cp_exact",
        "/items/0x",
        {"script": "unmatched_paths.lua", "status": 404},
    ),
}

#: What a target's ratio is taken against (its budget row divides by it).
REFERENCE = {label: "cp_1_route" for label in TARGETS if label.startswith("cp_")}
REFERENCE["cp_1_route"] = "bare"


def with_references(labels: set[str]) -> set[str]:
    """`labels` and the target each one's ratio is taken against."""
    return labels | {REFERENCE[label] for label in labels if label in REFERENCE}


def start_matrix(
    procs: Procs, labels: set[str] | None = None
) -> tuple[list[Target], dict[str, Proc]]:
    """Start the servers the matrix targets `labels` (all by default) need, register
    their routes; return the targets (in report order) and the servers."""
    chosen = [label for label in TARGETS if labels is None or label in labels]
    servers: dict[str, Proc] = {}
    for label in chosen:
        key = TARGETS[label][0]
        if key not in servers:
            argv, setup = SERVERS[key]
            servers[key] = procs.start(key, argv())
            if setup is not None:
                setup(servers[key].admin_url)
    targets = []
    for label in chosen:
        key, path, options = TARGETS[label]
        targets.append(Target(label, servers[key], path, **options))
    for target in targets:
        target.check()
    return targets, servers
