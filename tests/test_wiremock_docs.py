"""docs/reference/wiremock.md stays true: its endpoint table is exactly what is routed,
and every feature it calls supported (or "differs") names a test that exists."""

from __future__ import annotations

import re
from pathlib import Path

from controlplane.wiremock import endpoints

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "reference" / "wiremock.md").read_text()


def table(heading: str) -> list[list[str]]:
    section = PAGE.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_endpoint_table_lists_exactly_the_routed_endpoints() -> None:
    listed = {
        (method, path.strip("`"))
        for method, path, status, _ in table("Endpoints")
        if status in ("supported", "differs")
    }
    assert listed == set(endpoints())


def test_not_yet_endpoints_are_not_routed() -> None:
    missing = {(m, p.strip("`")) for m, p, status, _ in table("Endpoints") if status == "not yet"}
    assert missing and not missing & set(endpoints())


def test_every_supported_feature_names_an_existing_test() -> None:
    rows = table("Features")
    assert rows
    for feature, status, test in rows:
        assert status in ("supported", "differs", "not yet"), feature
        if status == "not yet":
            continue
        found = re.match(r"`(test_\w+\.py)::(test_\w+)`", test)
        assert found, f"{feature}: name a test as `file.py::test_name`"
        source = (ROOT / "tests" / found[1]).read_text()
        assert f"def {found[2]}(" in source, f"{feature}: {found[1]} has no {found[2]}"
