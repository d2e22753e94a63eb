"""Retry visibility: exponential in the receive count, capped, optionally jittered."""

from __future__ import annotations

import random

import pytest

from smsgw.sqs.backoff import SQS_MAX_VISIBILITY_SECONDS, retry_delay_seconds


@pytest.mark.parametrize(
    ("receive_count", "expected"),
    [(1, 10), (2, 20), (3, 40), (4, 80), (5, 160), (6, 320), (7, 640), (8, 900), (30, 900)],
)
def test_doubles_per_receive_up_to_the_cap(receive_count: int, expected: int) -> None:
    assert retry_delay_seconds(receive_count, 10, 900) == expected


def test_missing_or_zero_receive_count_counts_as_first() -> None:
    assert retry_delay_seconds(0, 10, 900) == 10
    assert retry_delay_seconds(-3, 10, 900) == 10


def test_never_beyond_sqs_limit() -> None:
    assert retry_delay_seconds(40, 3600, 100_000) == SQS_MAX_VISIBILITY_SECONDS
    assert retry_delay_seconds(10**6, 1, 43_200) == 43_200  # no giant integers either


def test_zero_base_or_cap_means_immediate_retry() -> None:
    assert retry_delay_seconds(5, 0, 900) == 0
    assert retry_delay_seconds(5, 10, 0) == 0


def test_full_jitter_stays_within_zero_and_the_delay() -> None:
    rng = random.Random(7)
    draws = [retry_delay_seconds(4, 10, 900, jitter=True, rng=rng) for _ in range(500)]
    assert min(draws) >= 0
    assert max(draws) <= 80
    assert len(set(draws)) > 20  # actually spread


def test_jitter_is_reproducible_with_a_seeded_rng() -> None:
    first = [retry_delay_seconds(3, 10, 900, jitter=True, rng=random.Random(1)) for _ in range(3)]
    again = [retry_delay_seconds(3, 10, 900, jitter=True, rng=random.Random(1)) for _ in range(3)]
    assert first == again
