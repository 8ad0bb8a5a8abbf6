"""Rewrite the generated files from the code they come from: `make generate`.

- `clients/python/src/controlplane_client/_shapes.py`, from `controlplane.wire`;
- `docs/reference/openapi.json`, what `GET /api/openapi.json` serves.

    python tools/generate.py            # rewrite both
    python tools/generate.py --check    # exit 1, naming the stale ones, when either differs

Tests fail when either committed file is stale (tests/test_client_shapes.py,
tests/test_openapi.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python tools/generate.py` from anywhere in a checkout

from controlplane.admin.openapi import openapi_document  # noqa: E402
from tools.client_shapes import SHAPES_PATH, render  # noqa: E402

OPENAPI_PATH = ROOT / "docs" / "reference" / "openapi.json"


def generated() -> dict[Path, bytes]:
    """Each generated file and the content it should have."""
    return {SHAPES_PATH: render().encode(), OPENAPI_PATH: openapi_document()}


def main(argv: list[str]) -> int:
    files = generated()
    if "--check" in argv:
        stale = [p for p, content in files.items() if not p.exists() or p.read_bytes() != content]
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale: run `make generate`", file=sys.stderr)
        return 1 if stale else 0
    for path, content in files.items():
        path.write_bytes(content)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
