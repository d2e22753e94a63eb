"""Unit tests have no I/O: any attempt to open a network connection fails the test."""

from __future__ import annotations

import socket
from typing import Any

import pytest


class NetworkUsedInUnitTest(AssertionError):
    pass


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise NetworkUsedInUnitTest("unit tests must not open connections; use tests/integration")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
