"""The short chaos run (the full one is ``make chaos``): 150 messages through the real
ingress and dispatch functions while providers fail, Redis and PostgreSQL are reset
and hang behind a fault proxy, and dispatch workers are killed mid-batch. Nothing
accepted may be lost, sent twice or left stuck, and every answer must be one the
contract documents.

The run happens once per module; each test checks one promise of its figures.
"""

from __future__ import annotations

import pytest

from chaos.config import RunConfig
from chaos.faults import CYCLE
from chaos.run import Outcome, run

MESSAGES = 150
# One fault cycle (46 s) of load.
RATE = 3.3


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    results = tmp_path_factory.mktemp("chaos") / "chaos.json"
    config = RunConfig.from_env(
        messages=MESSAGES, rate=RATE, loaders=2, results=results, drain_timeout=90
    )
    done = run(config)
    print(done.table())
    return done


def test_the_faults_happened(outcome: Outcome) -> None:
    report = outcome.table()
    for fault in CYCLE:
        assert outcome.extra["faults"].get(fault.name, 0) >= 1, report
    assert outcome.extra["workers"]["killed_busy"] >= 1, report
    assert outcome.extra["load_complete"], report
    assert outcome.figures.requested == MESSAGES, report
    assert outcome.figures.accepted >= 0.9 * MESSAGES, report


def test_every_accepted_message_ends_sent_or_failed_as_documented(outcome: Outcome) -> None:
    figures, report = outcome.figures, outcome.table()
    assert outcome.extra["drained"], report
    assert (figures.lost, figures.stuck) == (0, 0), report
    assert figures.sent + figures.failed + figures.dlq == figures.accepted, report
    assert figures.sent_not_at_provider == 0, report


def test_every_answer_is_documented_and_every_receipt_taken_is_applied(
    outcome: Outcome,
) -> None:
    assert outcome.figures.undocumented == 0, outcome.table()
    assert outcome.figures.receipts_lost == 0, outcome.table()


# The two defects the run found (an uncertain resend failing over to a provider that
# had not taken the message; a SendMessage that timed out yet landed, queued again by
# the retry) are fixed; their deterministic cases are test_dispatch_uncertain_failover.py
# and test_ingress_ambiguous_enqueue.py.
def test_nothing_is_sent_twice(outcome: Outcome) -> None:
    """Neither by dispatch (one tracking id through two providers) nor by ingress (one
    request queued under two tracking ids). A request never answered 202 may still be
    sent once, after a 503 for an unconfirmed enqueue (documented): counted, not checked.
    """
    figures, report = outcome.figures, outcome.table()
    assert (figures.duplicated, figures.duplicated_by_provider) == (0, {}), report
