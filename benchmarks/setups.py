"""What each scenario registers: route lists and the servers that carry them."""

from __future__ import annotations

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


def start_matrix(procs: Procs) -> tuple[list[Target], dict[str, Any]]:
    """Start every server of the throughput matrix; return the targets and the servers."""
    servers: dict[str, Any] = {}
    servers["bare"] = bare = procs.start("bare", bare_argv())
    servers["bare_app"] = bare_app = procs.start("bare_app", bare_argv("app"))

    servers["cp1"] = cp1 = procs.start("cp1", controlplane_argv())
    register(cp1.admin_url, one_route())

    servers["cp_exact"] = exact = procs.start("cp_exact", controlplane_argv())
    register(exact.admin_url, exact_routes())

    servers["cp_template"] = tmpl = procs.start("cp_template", controlplane_argv())
    register(tmpl.admin_url, template_routes())

    servers["cp_cond"] = cond = procs.start("cp_cond", controlplane_argv())
    register(cond.admin_url, condition_routes())

    servers["cp_joff"] = joff = procs.start("cp_joff", controlplane_argv("--journal-size", "1"))
    register(joff.admin_url, one_route())

    servers["cp_sessions"] = sess = procs.start("cp_sessions", controlplane_argv())
    for i in range(1, SESSIONS + 1):
        expect(201, "POST", sess.admin_url + "/api/sessions", {"id": f"bench{i}"})
        register(sess.admin_url, one_route(), session=f"bench{i}")

    post = ("POST", COND_BODY, COND_HEADERS)
    last = ROUTES - 1
    targets = [
        Target("bare", bare, "/hello"),
        Target("bare_app", bare_app, "/hello"),
        Target("bare_post", bare, COND_PATH, script="conditions.lua", probe=post),
        Target("cp_1_route", cp1, "/hello"),
        Target("cp_10k_exact", exact, f"/items/{last}"),
        Target("cp_10k_template", tmpl, f"/svc{last}/items/42"),
        Target(
            "cp_conditions",
            cond,
            COND_PATH,
            script="conditions.lua",
            probe=post,
            status=201,
        ),
        Target("cp_journal_off", joff, "/hello"),
        Target("cp_100_sessions", sess, "/_s/bench1/hello", script="sessions.lua"),
        Target("cp_unmatched_10k", exact, f"/items/{last}x", status=404),
    ]
    for target in targets:
        target.check()
    return targets, servers
