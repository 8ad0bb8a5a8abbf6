"""Sequences: each request gets the next response; `on_exhausted` says what follows.

Each position answers exactly one request per turn. A nested sequence is one
position that keeps its own place between turns: `cycle` over `[A, seq[b, c]]`
answers A b A c A b ... State lives in the responder, so re-registering the
handler (a new responder) starts from the first response again. The event loop
is single-threaded and `answer` never awaits, so advancing needs no lock.
"""

from __future__ import annotations

from collections.abc import Sequence

from controlplane import wire
from controlplane.request_view import RequestView
from controlplane.responses.delays import DelaySampler, compile_delay
from controlplane.responses.outcome import Outcome, Responder, error_body, error_outcome

__all__ = ["SequenceResponder"]


class SequenceResponder:
    """Serves compiled item responders in order, then raises, cycles or repeats the last."""

    __slots__ = ("_delay", "_exhausted_body", "_index", "_items", "_mode", "spec")

    def __init__(self, spec: wire.SequenceResponse, items: Sequence[Responder]) -> None:
        self.spec: wire.AnyResponse = spec
        self._items = tuple(items)
        self._mode = spec.on_exhausted
        self._index = 0
        self._delay: DelaySampler = compile_delay(spec.delay)
        self._exhausted_body = _exhausted_body(len(self._items))

    def answer(self, view: RequestView) -> Outcome:
        """The next item's answer, plus this sequence's own delay."""
        count = len(self._items)
        index = self._index
        if index >= count:
            if self._mode == "cycle":
                index %= count
            elif self._mode == "last":
                index = count - 1
            else:
                return self._exhausted()
        # No await between reading and writing the index: one request, one position.
        self._index += 1
        outcome = self._items[index].answer(view)
        outcome.delay_ms += self._delay()
        return outcome

    def seek(self, index: int) -> None:
        """Answer turn `index` next (shared state: Redis hands out the turns)."""
        self._index = index

    def _exhausted(self) -> Outcome:
        return error_outcome(
            "sequence_exhausted", self._exhausted_body, type="sequence", delay_ms=self._delay()
        )


def _exhausted_body(count: int) -> bytes:
    noun = "response" if count == 1 else "responses"
    message = (
        f"sequence for this handler is exhausted after {count} {noun}; register "
        "the handler's response again (PUT .../handlers/<handler>/response on the "
        'admin port) to start over, or set "on_exhausted" to "cycle" or "last"'
    )
    return error_body("sequence_exhausted", message)
