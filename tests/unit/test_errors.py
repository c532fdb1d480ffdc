"""The exception hierarchy: every user error maps to its documented exit code and prints as one line."""

from __future__ import annotations

import pytest

from cscvault import errors as err


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (err.CscvaultError, 1),
        (err.UsageError, 2),
        (err.StudyError, 2),
        (err.DataError, 3),
        (err.AuthError, 4),
        (err.PermissionDenied, 4),
        (err.VaultStateError, 5),
        (err.VaultInUse, 5),
        (err.TamperedError, 5),
        (err.VaultDestroyed, 5),
        (err.StorageError, 5),
    ],
)
def test_exit_codes_are_the_documented_ones(cls: type[err.CscvaultError], code: int) -> None:
    assert cls("x").exit_code == code
    assert issubclass(cls, err.CscvaultError)


def test_messages_are_one_line() -> None:
    exc = err.DataError("returns.csv:\n  row 3\tfield  'x'  ")
    assert exc.message == str(exc) == "returns.csv: row 3 field 'x'"


def test_the_subclasses_are_caught_by_their_family() -> None:
    with pytest.raises(err.VaultStateError):
        raise err.TamperedError("audit chain")
    with pytest.raises(err.AuthError):
        raise err.PermissionDenied("role analyst may not do this")
