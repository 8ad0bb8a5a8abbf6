"""`write_atomically`: the whole new content or the old one, and no temporary left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.atomic import write_atomically


def test_writes_creating_the_directory_and_replaces_whole(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "ready.json"
    write_atomically(target, b"first")
    write_atomically(target, b"second")
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["ready.json"]


def test_a_failed_replace_keeps_the_old_and_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()  # a directory cannot be replaced by a file
    (target / "inside").write_text("kept")
    with pytest.raises(OSError):
        write_atomically(target, b"new")
    assert (target / "inside").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
