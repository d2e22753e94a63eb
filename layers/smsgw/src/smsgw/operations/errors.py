"""Errors of operator actions: the operator can fix them, so they carry a message fit
to print as is."""

from __future__ import annotations


class OperationError(Exception):
    """The action could not be done (unknown id, duplicate name, invalid value)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(OperationError):
    """The client, provider or message named by the operator does not exist."""


class Conflict(OperationError):
    """The action clashes with existing state (a name already taken)."""
