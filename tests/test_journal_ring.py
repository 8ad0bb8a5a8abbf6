"""A full journal is a ring that overwrites its oldest entry: at every boundary of the
wrap (empty, one, size-1, size, size+1, many wraps) and after a removal, it reads as
the newest `size` entries in order, as a bounded queue would."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest
import requests

from controlplane import wire
from controlplane.journal import Journal, JournalEntry
from controlplane.server import ServerConfig
from tests.conftest import ThreadedServer

SIZE = 4
COUNTS = [0, 1, SIZE - 1, SIZE, SIZE + 1, 2 * SIZE - 1, 2 * SIZE, 5 * SIZE + 3]
_MISS = [wire.NearMiss(route_id="r", handler="h", distance=1.0, diffs=[])]


def _record(journal: Journal, number: int) -> JournalEntry:
    """Entry `number`, with a path of its own; every third one unanswered."""
    unanswered = number % 3 == 0
    return journal.record(
        "GET",
        f"/n/{number}",
        "",
        ((b"Host", b"127.0.0.1"),),
        b"",
        None if unanswered else "r",
        None if unanswered else "h",
        {},
        404 if unanswered else 200,
        "no_route" if unanswered else "json",
        0.0,
        None,
        _MISS if unanswered else None,
    )


def _fill(size: int, count: int) -> tuple[Journal, deque[int]]:
    """A journal of `size` after `count` records, and the seqs a bounded queue keeps."""
    journal = Journal("s", size)
    model: deque[int] = deque(maxlen=size)
    for number in range(1, count + 1):
        entry = _record(journal, number)
        model.append(entry.seq)
    return journal, model


def _check(journal: Journal, model: deque[int], appended: int) -> None:
    seqs = list(model)
    assert [entry.seq for entry in journal] == seqs
    assert [entry.path for entry in journal] == [f"/n/{seq}" for seq in seqs]
    assert [entry.seq for entry in reversed(journal)] == seqs[::-1]
    assert len(journal) == len(seqs)
    assert journal.evicted == appended - len(seqs)
    assert journal.unanswered_count == sum(1 for seq in seqs if seq % 3 == 0)
    entries: Any = journal._entries  # the sequence the journal pages over
    assert [entries[i].seq for i in range(-len(seqs), len(seqs))] == seqs + seqs
    assert [entry.seq for entry in entries[1:-1]] == seqs[1:-1]
    for out in (len(seqs), -len(seqs) - 1):
        with pytest.raises(IndexError):
            entries[out]
    for after in [0, *seqs]:
        chosen = journal.page(after=after, limit=2).entries
        assert [entry.seq for entry in chosen] == [seq for seq in seqs if seq > after][:2]
    for limit in (0, 1, 2, SIZE + 1):
        newest = journal.page(limit=limit).entries
        assert [entry.seq for entry in newest] == (seqs[-limit:] if limit else [])


@pytest.mark.parametrize("count", COUNTS)
def test_a_journal_reads_as_its_newest_entries_at_every_wrap(count: int) -> None:
    journal, model = _fill(SIZE, count)
    _check(journal, model, count)


@pytest.mark.parametrize("count", [15, 16, 17, 32, 33, 39, 40, 41, 3 * 40 + 7])
def test_a_journal_grows_past_each_doubling_then_wraps(count: int) -> None:
    """Columns grow 16, 32, 40 (the size) slots: every step's edges, then wraps."""
    journal, model = _fill(40, count)
    _check(journal, model, count)


@pytest.mark.parametrize("count", [0, 1, 2, 7])
def test_a_journal_of_one_keeps_the_newest(count: int) -> None:
    journal, model = _fill(1, count)
    _check(journal, model, count)


def test_a_journal_of_zero_keeps_nothing_and_counts_every_entry_evicted() -> None:
    journal, _ = _fill(0, 3)
    assert (list(journal), len(journal), journal.evicted) == ([], 0, 3)
    assert (journal.unanswered_count, journal.last_seq) == (0, 3)


@pytest.mark.parametrize("count", COUNTS)
def test_removing_after_a_wrap_keeps_the_order_and_the_evicted_count(count: int) -> None:
    journal, model = _fill(SIZE, count)
    evicted = journal.evicted
    doomed = set(list(model)[::2])
    removed = journal.remove_where(lambda entry: entry.seq in doomed)
    assert [entry.seq for entry in removed] == [seq for seq in model if seq in doomed]
    for seq in doomed:
        model.remove(seq)
    assert journal.evicted == evicted
    _check(journal, model, count - len(doomed))
    # Then it fills and wraps again from where the removal left it.
    for number in range(count + 1, count + 2 * SIZE + 2):
        model.append(_record(journal, number).seq)
    _check(journal, model, count - len(doomed) + 2 * SIZE + 1)


@pytest.mark.parametrize("count", [SIZE - 1, SIZE + 1, 3 * SIZE + 2])
def test_a_cleared_journal_fills_and_wraps_again(count: int) -> None:
    journal, _ = _fill(SIZE, count)
    journal.clear()
    _check(journal, deque(maxlen=SIZE), 0)
    model: deque[int] = deque(maxlen=SIZE)
    for number in range(count + 1, count + SIZE + 3):
        model.append(_record(journal, number).seq)
    _check(journal, model, SIZE + 2)


def test_appending_entries_of_another_journal_wraps_the_same() -> None:
    """`append` (a shared journal's cache takes the stream's entries so) wraps as `record`."""
    source, model = _fill(3 * SIZE + 1, 3 * SIZE + 1)
    copy = Journal("copy", SIZE)
    for entry in source:
        copy.append(entry)
    kept = [(e.seq, e.time_us, e.request) for e in source][-SIZE:]
    assert [(e.seq, e.time_us, e.request) for e in copy] == kept
    assert [seq for seq, _, _ in kept] == list(model)[-SIZE:]
    assert copy.evicted == 2 * SIZE + 1


@pytest.fixture(scope="module")
def server_of_three() -> Any:
    server = ThreadedServer(ServerConfig(port=0, admin_port=0, journal_size=3)).start()
    yield server
    server.stop()


def test_over_the_wire_a_wrapped_journal_lists_the_newest_in_order(
    server_of_three: ThreadedServer,
) -> None:
    session = requests.post(f"{server_of_three.admin_url}/api/sessions", timeout=10).json()
    try:
        for number in range(1, 9):
            requests.get(f"{session['mock_url']}/n/{number}", timeout=10)
        body = requests.get(f"{session['admin_url']}/requests", timeout=10).json()
        assert [entry["path"] for entry in body["requests"]] == ["/n/6", "/n/7", "/n/8"]
        assert [entry["seq"] for entry in body["requests"]] == [6, 7, 8]
        assert body["evicted"] == 5
        newest = requests.get(f"{session['admin_url']}/requests?limit=2", timeout=10).json()
        assert [entry["seq"] for entry in newest["requests"]] == [7, 8]
    finally:
        requests.delete(session["admin_url"], timeout=10)
