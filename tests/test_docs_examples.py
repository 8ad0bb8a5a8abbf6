"""The documentation's examples, run: what README.md and docs/ show is what the server does.

The curl walk-throughs live in `tests/examples/*.sh` (run here against a real server);
the docs show the same `curl` lines with the ports of `make serve` spelled out, and
`test_doc_curl_lines_match_their_scripts` keeps the two in step.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import ThreadedServer
from tests.process import serve_process

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "tests" / "examples"
DOC_MOCK = "http://127.0.0.1:8080"
DOC_ADMIN = "http://127.0.0.1:8081"
SCRIPTS = {
    "walkthrough.sh": "README.md",
    "quickstart.sh": "docs/quickstart.md",
    "forward_proxy.sh": "docs/reference/forward-proxy.md",
}

needs_curl = pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("bash") is None,
    reason="the doc examples are curl commands in bash scripts; curl or bash is not installed",
)


def _reset(server: ThreadedServer) -> None:
    requests.post(f"{server.admin_url}/api/reset", timeout=10).raise_for_status()
    requests.delete(f"{server.admin_url}/api/sessions/checkout", timeout=10)


def _run_script(name: str, server: ThreadedServer) -> subprocess.CompletedProcess[str]:
    _reset(server)
    try:
        return subprocess.run(
            ["bash", str(EXAMPLES / name), server.mock_url, server.admin_url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        _reset(server)


@needs_curl
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_doc_curl_script_runs_against_a_real_server(script: str, cp_server: ThreadedServer) -> None:
    result = _run_script(script, cp_server)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def _doc_lines(script: str) -> list[str]:
    """The script's curl commands as the docs show them (ports of `make serve`, no checks)."""
    lines = []
    for line in (EXAMPLES / script).read_text().splitlines():
        if not line.startswith("curl "):
            continue
        command = line.split(" | expect ", 1)[0]
        lines.append(command.replace("$MOCK", DOC_MOCK).replace("$ADMIN", DOC_ADMIN))
    return lines


@pytest.mark.parametrize(("script", "doc"), sorted(SCRIPTS.items()))
def test_doc_curl_lines_match_their_scripts(script: str, doc: str) -> None:
    text = (ROOT / doc).read_text()
    commands = _doc_lines(script)
    assert commands, f"no curl lines found in tests/examples/{script}"
    missing = [c for c in commands if c not in text]
    assert not missing, f"{doc} lacks these lines of tests/examples/{script}:\n" + "\n".join(
        missing
    )
    shown = [line for line in text.splitlines() if line.startswith("curl ")]
    extra = [line for line in shown if line not in commands]
    assert not extra, f"{doc} shows curl lines that tests/examples/{script} does not run:\n" + (
        "\n".join(extra)
    )


def test_readme_plugin_example_is_the_tested_file() -> None:
    # tests/examples/test_with_requests.py itself runs with the rest of the suite.
    code = (EXAMPLES / "test_with_requests.py").read_text()
    assert code.strip() in (ROOT / "README.md").read_text(), (
        "README.md must show tests/examples/test_with_requests.py verbatim"
    )


def test_readme_python_example_is_the_tested_file(cp_server: ThreadedServer) -> None:
    code = (EXAMPLES / "python_example.py").read_text()
    assert code.strip() in (ROOT / "README.md").read_text(), (
        "README.md must show tests/examples/python_example.py verbatim"
    )
    result = subprocess.run(
        [sys.executable, "-c", code.replace(DOC_ADMIN, cp_server.admin_url)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_route_files_example_loads_through_the_cli(tmp_path: Path) -> None:
    with serve_process(tmp_path, "--mappings", str(EXAMPLES / "mappings")) as server:
        mock = server.mock_url
        assert requests.get(f"{mock}/users/42", timeout=10).json() == {"id": 42, "name": "Whiskers"}
        assert requests.get(f"{mock}/users/abc", timeout=10).status_code == 404
        created = requests.post(f"{mock}/users", json={"name": "Whiskers", "age": 3}, timeout=10)
        assert created.status_code == 201
        assert requests.get(f"{mock}/health", timeout=10).text == "up"
        assert requests.delete(f"{mock}/legacy/a/b", timeout=10).status_code == 410
        routes = requests.get(f"{server.admin_url}/api/routes", timeout=10).json()["routes"]
        assert [r["handler"] for r in routes] == ["get_user", "create_user", "health", "legacy"]
    assert server.returncode == 0, server.stderr


_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize(
    "doc",
    ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md"))],
)
def test_doc_relative_links_point_at_files(doc: str) -> None:
    path = ROOT / doc
    broken = [
        target
        for target in _LINK.findall(path.read_text())
        if "://" not in target and not (path.parent / target).exists()
    ]
    assert not broken, f"{doc} links to missing files: {broken}"
