"""The dashboard's pages on the admin port: served, shipped in the wheel, outside the API.

What the page does is proved in a real browser (tests/test_dashboard_browser.py); these
check what the server gives it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from controlplane.server import ServerConfig
from controlplane.testing import ThreadedServer

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "controlplane" / "dashboard" / "static"


@pytest.fixture(scope="module")
def guarded() -> Iterator[ThreadedServer]:
    server = ThreadedServer(ServerConfig(port=0, admin_port=0, admin_token="s3cret")).start()
    yield server
    server.stop()


@pytest.mark.parametrize("path", ["/", "/ui"])
def test_the_page_is_served_at_the_root_and_ui(cp_server: ThreadedServer, path: str) -> None:
    answer = requests.get(cp_server.admin_url + path, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-cache"
    assert answer.content == (STATIC / "index.html").read_bytes()


@pytest.mark.parametrize(
    ("name", "content_type"), [("app.js", "text/javascript"), ("style.css", "text/css")]
)
def test_the_script_and_style_sheet_are_served(
    cp_server: ThreadedServer, name: str, content_type: str
) -> None:
    answer = requests.get(f"{cp_server.admin_url}/ui/static/{name}", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == f"{content_type}; charset=utf-8"
    assert answer.content == (STATIC / name).read_bytes()


@pytest.mark.parametrize("name", ["nope.js", "..%2Fapp.py", "index.htm"])
def test_an_unknown_static_file_is_the_admin_apis_404(cp_server: ThreadedServer, name: str) -> None:
    answer = requests.get(f"{cp_server.admin_url}/ui/static/{name}", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_the_page_loads_without_the_admin_token_but_the_api_does_not(
    guarded: ThreadedServer,
) -> None:
    for path in ("/", "/ui", "/ui/static/app.js", "/ui/static/style.css"):
        assert requests.get(guarded.admin_url + path, timeout=10).status_code == 200, path
    refused = requests.get(guarded.admin_url + "/api/sessions", timeout=10)
    assert refused.status_code == 401
    # Only the page's own paths are open: a near one is not.
    assert requests.get(guarded.admin_url + "/ui/other", timeout=10).status_code == 401
    assert requests.get(guarded.admin_url + "/uix", timeout=10).status_code == 401
    allowed = requests.get(
        guarded.admin_url + "/api/sessions",
        headers={"Authorization": "Bearer s3cret"},
        timeout=10,
    )
    assert allowed.status_code == 200


def test_the_pages_are_not_in_the_openapi_document(cp_server: ThreadedServer) -> None:
    document = requests.get(cp_server.admin_url + "/api/openapi.json", timeout=10).json()
    assert not [path for path in document["paths"] if path == "/" or path.startswith("/ui")]


def test_the_page_uses_no_network_but_the_servers() -> None:
    # No CDN: every file the page loads is one the admin port serves, and the script
    # calls only paths of the server it came from.
    html = (STATIC / "index.html").read_text()
    assert re.findall(r"""(?:src|href)=["']([^"']*)""", html) == [
        "/ui/static/style.css",
        "/ui/static/app.js",
    ]
    assert "url(" not in (STATIC / "style.css").read_text()
    script = (STATIC / "app.js").read_text()
    assert "http://" not in script and "https://" not in script


def test_the_wheel_ships_the_static_files(tmp_path: Path) -> None:
    # Built from a copy of the sources, so that no `build/` or `*.egg-info` left in the
    # checkout (setuptools reuses their file lists) can ship the files for pyproject.
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for tree in ("controlplane", "clients/python/src"):
        shutil.copytree(ROOT / tree, source / tree, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path / "dist"),
            str(source),
        ],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = (tmp_path / "dist").glob("controlplane-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("index.html", "app.js", "style.css"):
        assert f"controlplane/dashboard/static/{name}" in names
