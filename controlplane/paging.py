"""Pages of a bounded log: the journal's listings and the frame log of streams.

A log is a sequence of entries whose `seq` increases along it (old entries may have
been evicted from its start). A listing asks for one page (`?after=`, `?limit=`) and
gets the entries (references, not copies) and the cursor that continues it, chosen in
one pass without an `await`, so the log cannot change under it:

- neither: the first `DEFAULT_PAGE_SIZE` entries from the oldest;
- `limit=N` alone: the newest N, and nothing follows them;
- `after=S` (and `limit=N`): the first N (default `DEFAULT_PAGE_SIZE`) whose `seq` is
  greater than S.

`next` is the `after` of the following page, None when no further entry matched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Generic, NamedTuple, Protocol, TypeVar

__all__ = ["DEFAULT_PAGE_SIZE", "Page", "Paged", "Sequenced", "page"]

#: Entries in one page of a listing that gives no `limit`: the default `--journal-size`,
#: so a journal of the default size comes whole to clients that do not page (the
#: Python client, srvmocker's call counts, a `curl`), as it did before pages.
DEFAULT_PAGE_SIZE = 10_000


class Sequenced(Protocol):
    """An entry of a log: numbered, the numbers increasing along the log."""

    @property
    def seq(self) -> int: ...


_E = TypeVar("_E", bound=Sequenced)


class Page(NamedTuple, Generic[_E]):
    """The entries one listing shows, oldest first, and the `after` that continues it."""

    entries: list[_E]
    #: The `after` cursor of the next page; None when no further entry matched.
    next: int | None


class Paged(Protocol[_E]):
    """A log that gives its entries a page at a time (the journal, a frame log)."""

    def page(
        self,
        keep: Callable[[_E], bool] | None = None,
        *,
        after: int | None = None,
        limit: int | None = None,
    ) -> Page[_E]: ...


def page(
    entries: Sequence[_E],
    keep: Callable[[_E], bool] | None = None,
    *,
    after: int | None = None,
    limit: int | None = None,
) -> Page[_E]:
    """The entries `keep` holds for (all when None), one page of them (see above)."""
    if after is None and limit is not None:
        newest: list[_E] = []
        if limit:
            for entry in reversed(entries):
                if keep is None or keep(entry):
                    newest.append(entry)
                    if len(newest) == limit:
                        break
        newest.reverse()
        return Page(newest, None)
    size = DEFAULT_PAGE_SIZE if limit is None else limit
    start = 0 if after is None else _first_after(entries, after)
    candidates: Iterator[_E] = islice(entries, start, None)
    if keep is not None:
        candidates = (entry for entry in candidates if keep(entry))
    # One entry past the page says whether another page follows.
    chosen = list(islice(candidates, size + 1))
    if len(chosen) <= size:
        return Page(chosen, None)
    shown = chosen[:size]
    return Page(shown, shown[-1].seq if shown else (after or 0))


def _first_after(entries: Sequence[_E], after: int) -> int:
    """The index of the first entry with `seq > after` (seqs increase along the log)."""
    low, high = 0, len(entries)
    while low < high:
        middle = (low + high) // 2
        if entries[middle].seq <= after:
            low = middle + 1
        else:
            high = middle
    return low
