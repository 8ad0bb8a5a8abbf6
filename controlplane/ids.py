"""Ids that end up in state (route, session, stub ids), the same in every process.

With shared state (`serve --state`), every process applies every admin change from
one op log (`controlplane.cluster.replica`) and must build identical state from it:
an id drawn at random while applying an op would differ per process. So while an op
is applied (`applying`), `new_uuid` and `new_token` derive their values from the op's
id and a counter; otherwise (one process, state in memory; requests served) they
are random, as `uuid.uuid4()` and `secrets.token_hex` are.

`applying` also says whose application it is: `is_originator()` is true in the
process whose client sent the change (and whenever no op is being applied), so a
side effect outside this process's memory (a Redis key deleted on reset, a file
written) runs once, not once per process.

And how much of it happened here: a change whose answer counts what each process did
(a push's `delivered`, a close's `closed`) reports its part with `tally`; the op log
sums the parts of every process into the answer (`controlplane.cluster.replica`).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = [
    "applying",
    "current_op",
    "is_originator",
    "new_token",
    "new_uuid",
    "tallies",
    "tally",
]


@dataclass
class _Op:
    """The op being applied: its id (the seed), whether this process sent it, and how
    many values have been drawn from it so far."""

    op_id: str
    originator: bool
    drawn: int = field(default=0)
    tallies: dict[str, int] = field(default_factory=dict)

    def draw(self) -> bytes:
        self.drawn += 1
        return hashlib.sha256(f"{self.op_id}/{self.drawn}".encode()).digest()


_current: ContextVar[_Op | None] = ContextVar("controlplane_op", default=None)


@contextmanager
def applying(op_id: str, *, originator: bool) -> Iterator[None]:
    """Within this block, ids derive from `op_id` (the same in every process)."""
    token = _current.set(_Op(op_id, originator))
    try:
        yield
    finally:
        _current.reset(token)


def current_op() -> str | None:
    """The id of the op being applied here, or None outside one."""
    op = _current.get()
    return None if op is None else op.op_id


def is_originator() -> bool:
    """False only while applying an op another process's client sent."""
    op = _current.get()
    return op is None or op.originator


def tally(name: str, count: int) -> None:
    """Add `count` to this process's part of the answer's field `name` (nothing
    outside an op: one process's count is the whole)."""
    op = _current.get()
    if op is not None:
        op.tallies[name] = op.tallies.get(name, 0) + count


def tallies() -> dict[str, int]:
    """What the op being applied counted here, by field (empty outside one)."""
    op = _current.get()
    return {} if op is None else op.tallies


def new_uuid() -> str:
    """A version-4 UUID as text: random, or derived from the op being applied."""
    op = _current.get()
    if op is None:
        return str(uuid.uuid4())
    return str(uuid.UUID(bytes=op.draw()[:16], version=4))


def new_token(nbytes: int) -> str:
    """`nbytes` bytes as hex (at most 32 while applying an op), as `secrets.token_hex`."""
    op = _current.get()
    if op is None:
        return secrets.token_hex(nbytes)
    if not 0 < nbytes <= 32:
        raise ValueError(f"a derived token has 1 to 32 bytes, not {nbytes}")
    return op.draw()[:nbytes].hex()
