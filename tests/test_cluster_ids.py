"""`controlplane.ids`: ids drawn while applying an op are the same in every process."""

from __future__ import annotations

import uuid

import pytest

from controlplane import ids


def test_ids_derive_from_the_op_being_applied() -> None:
    with ids.applying("1712345678901-0", originator=False):
        first = [ids.new_uuid(), ids.new_token(6), ids.new_uuid()]
        assert ids.current_op() == "1712345678901-0"
        assert ids.is_originator() is False
    with ids.applying("1712345678901-0", originator=True):
        again = [ids.new_uuid(), ids.new_token(6), ids.new_uuid()]
        assert ids.is_originator() is True
    assert again == first
    assert len(set(first)) == 3  # each draw differs
    assert uuid.UUID(first[0]).version == 4
    assert len(first[1]) == 12
    with ids.applying("1712345678901-1", originator=True):
        assert ids.new_uuid() != first[0]


def test_outside_an_op_ids_are_random() -> None:
    assert ids.current_op() is None
    assert ids.is_originator() is True
    assert ids.new_uuid() != ids.new_uuid()
    assert ids.new_token(6) != ids.new_token(6)


@pytest.mark.parametrize("nbytes", [0, 33])
def test_derived_tokens_have_1_to_32_bytes(nbytes: int) -> None:
    with ids.applying("1-0", originator=True), pytest.raises(ValueError) as caught:
        ids.new_token(nbytes)
    assert str(caught.value) == f"a derived token has 1 to 32 bytes, not {nbytes}"
