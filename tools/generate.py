"""Rewrite the generated files from the code they come from: `make generate`.

- `clients/python/src/controlplane_client/_shapes.py`, from `controlplane.wire`;
- `docs/reference/openapi.json`, what `GET /api/openapi.json` serves.

    python tools/generate.py            # rewrite both
    python tools/generate.py --check    # exit 1, naming the stale ones, when either differs

`--root DIR` reads and writes the two files under DIR instead of this checkout (the
tests check a stale copy that way).

Tests fail when either committed file is stale (tests/test_client_shapes.py,
tests/test_openapi.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python tools/generate.py` from anywhere in a checkout

from controlplane.admin.openapi import openapi_document  # noqa: E402
from tools.client_shapes import SHAPES_PATH, render  # noqa: E402

OPENAPI_PATH = ROOT / "docs" / "reference" / "openapi.json"


def generated() -> dict[Path, bytes]:
    """Each generated file (relative to the checkout) and the content it should have."""
    return {
        SHAPES_PATH.relative_to(ROOT): render().encode(),
        OPENAPI_PATH.relative_to(ROOT): openapi_document(),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tools/generate.py", description="Rewrite (or check) the generated files."
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a file is stale")
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the checkout to read and write (default: this one)"
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    files = generated()
    if args.check:
        stale = [
            name
            for name, content in files.items()
            if not (root / name).exists() or (root / name).read_bytes() != content
        ]
        for name in stale:
            print(f"{name} is stale: run `make generate`", file=sys.stderr)
        return 1 if stale else 0
    for name, content in files.items():
        (root / name).write_bytes(content)
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
