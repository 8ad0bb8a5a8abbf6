"""docs/reference/wiremock.md stays true: its endpoint table is exactly what is routed
(a row not served says why), and every feature names a test that exists: the one that
shows it working, or for a feature not served, the one that shows its refusal."""

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


def test_endpoints_not_served_are_not_routed_and_say_why() -> None:
    rows = [row for row in table("Endpoints") if row[2] not in ("supported", "differs")]
    for method, path, status, why in rows:
        assert status == "not served", (method, path, status)
        assert why, f"{method} {path}: say why it is not served"
    assert not {(m, p.strip("`")) for m, p, _, _ in rows} & set(endpoints())


def _named_test_exists(feature: str, cell: str) -> bool:
    found = re.findall(r"`(test_\w+\.py)::(test_\w+)`", cell)
    for file, test in found:
        source = (ROOT / "tests" / file).read_text()
        assert f"def {test}(" in source, f"{feature}: {file} has no {test}"
    return bool(found)


def test_every_feature_names_an_existing_test() -> None:
    """Supported and differing features name the test that shows them first; a feature
    not served says why and names the test of its refusal."""
    rows = table("Features")
    assert rows
    for feature, status, cell in rows:
        assert status in ("supported", "differs", "not served"), feature
        if status != "not served":
            assert re.match(r"`test_\w+\.py::test_\w+`", cell), (
                f"{feature}: name a test as `file.py::test_name`"
            )
        assert _named_test_exists(feature, cell), f"{feature}: name the test"
