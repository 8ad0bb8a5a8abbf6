"""The how-to pages show the example tests verbatim (the suite runs those files)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "tests" / "examples"
SHOWN_IN = {
    "test_with_requests.py": "docs/how-to/in-process.md",
    "test_with_httpx.py": "docs/how-to/in-process.md",
    "test_with_aiohttp.py": "docs/how-to/in-process.md",
    "test_with_urllib.py": "docs/how-to/in-process.md",
    "test_with_srvmocker.py": "docs/how-to/migrate.md",
    "test_with_callback.py": "docs/how-to/callbacks.md",
}


@pytest.mark.parametrize(("example", "doc"), sorted(SHOWN_IN.items()))
def test_docs_show_the_example_tests_verbatim(example: str, doc: str) -> None:
    code = (EXAMPLES / example).read_text().strip()
    assert code in (ROOT / doc).read_text(), f"{doc} must show tests/examples/{example} verbatim"


def test_client_readme_links_point_at_files() -> None:
    readme = ROOT / "clients" / "python" / "README.md"
    import re

    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme.read_text())
    broken = [t for t in targets if "://" not in t and not (readme.parent / t).exists()]
    assert not broken, broken
