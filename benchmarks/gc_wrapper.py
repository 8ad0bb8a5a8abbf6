"""`controlplane serve` with Python's cyclic garbage collector switched off.

Only for the suite's GC experiment (`scenarios.sessions_gc`): it shows what the
collector's full passes over large journals cost. Not a way to run controlplane.
Run: `python gc_wrapper.py serve --port 0 ...` (the CLI's own arguments).
"""

from __future__ import annotations

import gc
import sys

from controlplane.cli import main

if __name__ == "__main__":
    gc.disable()
    sys.exit(main())
