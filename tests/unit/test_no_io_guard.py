"""The guard in tests/unit/conftest.py really refuses connections."""

from __future__ import annotations

import socket

import pytest


def test_opening_a_connection_fails_the_test() -> None:
    with pytest.raises(AssertionError, match="must not open connections"):
        socket.create_connection(("127.0.0.1", 6379), timeout=0.1)
