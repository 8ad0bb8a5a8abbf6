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
schema-valid input on `POST /api/routes`, `PUT /api/routes/{route_id}` and
`PUT /api/settings`, whose checks include
what a JSON Schema cannot state (a `uniform_ms` pair in order, a regex that compiles,
`4.0` where an integer is due), and on `POST /api/handlers/{name}/messages`, whose
schema does not yet say "exactly one of `text`, `json`, `binary_base64`" (found once the
webhooks endpoints shifted the deterministic run); every other check still runs there,
and every check everywhere else. Regenerate it, when the document or the server changes on purpose,
with `fuzz_command(...)` plus `--baseline-update` against a running server.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

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
