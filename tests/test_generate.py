"""`make generate` (tools/generate.py): it rewrites the generated files, and `--check`
fails, naming each stale file and the command that fixes it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import generate

ROOT = Path(__file__).resolve().parent.parent
SHAPES = "clients/python/src/controlplane_client/_shapes.py"
OPENAPI = "docs/reference/openapi.json"


def test_the_check_passes_on_this_checkout_from_anywhere(tmp_path: Path) -> None:
    check = subprocess.run(
        [sys.executable, "tools/generate.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (check.returncode, check.stderr) == (0, "")
    # From anywhere: the tool finds its checkout by its own path.
    elsewhere = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "generate.py"), "--check"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (elsewhere.returncode, elsewhere.stderr) == (0, "")


def test_the_check_names_each_stale_file_and_make_generate_rewrites_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in (SHAPES, OPENAPI):
        (tmp_path / name).parent.mkdir(parents=True)
        shutil.copyfile(ROOT / name, tmp_path / name)
    root = ["--root", str(tmp_path)]
    (tmp_path / OPENAPI).write_text("{}\n")  # edited by hand; the shapes are current
    assert generate.main(["--check", *root]) == 1
    assert capsys.readouterr().err == f"{OPENAPI} is stale: run `make generate`\n"

    (tmp_path / SHAPES).unlink()  # missing counts as stale
    assert generate.main(["--check", *root]) == 1
    assert capsys.readouterr().err == (
        f"{SHAPES} is stale: run `make generate`\n{OPENAPI} is stale: run `make generate`\n"
    )

    assert generate.main(root) == 0
    assert capsys.readouterr().out == f"wrote {SHAPES}\nwrote {OPENAPI}\n"
    for name in (SHAPES, OPENAPI):
        assert (tmp_path / name).read_bytes() == (ROOT / name).read_bytes(), name
