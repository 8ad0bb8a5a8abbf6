"""Schemathesis over the served OpenAPI document: the admin API keeps to what it says.

A server of its own on port 0; schemathesis's CLI in a subprocess with every check
(`--checks all`: no 5xx, only documented statuses and content types, answers that fit
their schemas, schema-invalid input refused, schema-valid input accepted), in its
deterministic mode with a fixed number of examples, so that a run is repeatable and
takes about 20 s on 2 cores. Bounded so:

- the coverage phase (boundary values of every field, minutes on its own) is left out;
- the session-scoped operations are fuzzed under `/api/...` (session `default`): their
  `/api/sessions/{sid}/...` twins run the same handlers, and there a random `sid`
  answers the documented 404 before anything else.
- `GET /api/requests/stream` is left out: an event stream that never ends would hold
  every example until the request timeout (tests/test_journal_feed.py covers its errors).

The baseline (`openapi_fuzz_baseline.json`) accepts one thing only: a 422 for
schema-valid input on the operations whose checks include what a JSON Schema cannot
state (a `uniform_ms` pair in order, a regex that compiles, `4.0` where an integer is
due: `retry` of `POST .../events`, `times` of `POST .../verify`); every other check
still runs there, and every check everywhere else. Regenerate it, when the document or
the server changes on purpose, with `fuzz_command(...)` plus `--baseline-update` against
a running server (`--baseline-prune` drops entries the run no longer reproduces: a
random handler name is a 404 before its body is read, so check such an entry with a
handler that exists, as the second test does for `POST .../messages`).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from controlplane.server import ServerConfig
from controlplane.testing import ThreadedServer

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
BASELINE = Path(__file__).with_name("openapi_fuzz_baseline.json")
EXAMPLES = 30  # per operation


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[ThreadedServer]:
    server = ThreadedServer(ServerConfig(port=0, admin_port=0)).start()
    yield server
    server.stop()


def fuzz_command(admin_url: str) -> list[str]:
    """The schemathesis run of this test (also what regenerates the baseline)."""
    return [
        str(SCHEMATHESIS),
        "run",
        f"{admin_url}/api/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--generation-deterministic",
        "--workers",
        "1",
        "--phases",
        "examples,fuzzing,stateful",
        "--exclude-path-regex",
        r"^/api/sessions/\{sid\}/|^/api/requests/stream$",
        "--request-timeout",
        "10",
        "--baseline",
        str(BASELINE),
        "--no-color",
    ]


@pytest.mark.timeout(300)
def test_the_admin_api_keeps_to_its_openapi_document(
    fuzzed: ThreadedServer, tmp_path: Path
) -> None:
    assert SCHEMATHESIS.exists(), "schemathesis is a test dependency: run `make test`"
    done = subprocess.run(
        fuzz_command(fuzzed.admin_url),
        cwd=tmp_path,  # it keeps a cache directory in the working directory
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]


@pytest.mark.timeout(300)
def test_the_push_endpoints_accept_exactly_what_their_schema_states(tmp_path: Path) -> None:
    # The run above names random handlers, so its pushes stop at the 404; here the
    # handler exists and every body reaches validation: schema-valid ones must be
    # accepted (exactly one of text/json/binary_base64, `delay_ms` 0, one-line `id`),
    # invalid ones refused. No baseline.
    config = tmp_path / "schemathesis.toml"
    config.write_text('[parameters]\n"path.name" = "feed"\n')
    server = ThreadedServer(ServerConfig(port=0, admin_port=0)).start()
    try:
        route = {"method": "GET", "path": "/feed", "handler": "feed"}
        added = requests.post(f"{server.admin_url}/api/routes", json=route, timeout=10)
        assert added.status_code == 201, added.text
        command = fuzz_command(server.admin_url)
        command[command.index("--baseline") : command.index("--baseline") + 2] = []
        command[1:1] = ["--config-file", str(config)]
        command += ["--include-operation-id-regex", "^post__api_handlers_name_messages$"]
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=280)
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    assert "1 selected" in done.stdout, done.stdout[-8000:]
