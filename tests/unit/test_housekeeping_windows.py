"""The windows housekeeping waits before resolving a message (pure: no I/O), and what
adapters declare about delivery receipts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from smsgw.config import Settings
from smsgw.housekeeping.windows import (
    RETRY_WINDOW_MARGIN_SECONDS,
    ReceiptWindow,
    receipt_windows,
    retry_window_seconds,
    stuck_sending_after,
)
from smsgw.providers.base import (
    OutboundSms,
    SmsProvider,
    configured_receipt_window,
)
from smsgw.providers.factory import PROVIDER_CLASSES, ProviderClass
from smsgw.providers.registry import ProviderInfo
from smsgw.providers.simulator import SimulatorProvider
from smsgw.providers.sns import SnsProvider

DAY = 86_400

# --- the retry window ---------------------------------------------------------------


def test_default_retry_window_is_lease_plus_every_backoff_plus_the_margin() -> None:
    # Given the default dispatch settings: lease 120 s, 8 receives, 30 s doubling to 900 s
    settings = Settings()
    # Then the window adds 30+60+120+240+480+900+900+900 s of backoff and an hour
    backoff = 30 + 60 + 120 + 240 + 480 + 900 + 900 + 900
    assert stuck_sending_after(settings) == 120 + backoff + RETRY_WINDOW_MARGIN_SECONDS == 7350


def test_retry_window_follows_every_setting() -> None:
    base = {
        "lease_seconds": 120,
        "max_receive_count": 8,
        "retry_base_seconds": 30,
        "retry_max_seconds": 900,
        "margin_seconds": 0,
    }
    assert retry_window_seconds(**base) == 120 + 3630
    assert retry_window_seconds(**{**base, "lease_seconds": 300}) == 300 + 3630
    # One more receive waits one more capped delay
    assert retry_window_seconds(**{**base, "max_receive_count": 9}) == 120 + 3630 + 900
    # The cap applies to every delay
    assert retry_window_seconds(**{**base, "retry_max_seconds": 60}) == 120 + 30 + 60 * 7
    # No backoff (the e2e stack): only the lease and the margin are left
    assert retry_window_seconds(**{**base, "retry_base_seconds": 0, "margin_seconds": 50}) == 170


def test_retry_window_never_exceeds_sqs_visibility_limit_per_receive() -> None:
    window = retry_window_seconds(
        lease_seconds=0,
        max_receive_count=3,
        retry_base_seconds=40_000,
        retry_max_seconds=10**6,
        margin_seconds=0,
    )
    assert window == 40_000 + 43_200 + 43_200


def test_retry_window_is_never_shorter_than_the_lease() -> None:
    # Whatever the backoff, a message under a live lease is never due.
    for receives in (1, 2, 8, 20):
        window = retry_window_seconds(
            lease_seconds=120,
            max_receive_count=receives,
            retry_base_seconds=0,
            retry_max_seconds=0,
            margin_seconds=0,
        )
        assert window >= 120


def test_settings_read_the_housekeeping_variables() -> None:
    settings = Settings.from_env(
        {
            "RECEIPT_WINDOW_SECONDS": "3600",
            "CALLBACK_RETENTION_DAYS": "2",
            "RECEIPT_RETENTION_DAYS": "9",
            "PENDING_RECEIPT_RETENTION_DAYS": "1",
            "MESSAGE_TEXT_RETENTION_DAYS": "14",
        }
    )
    assert settings.receipt_window_seconds == 3600
    assert (
        settings.callback_retention_days,
        settings.receipt_retention_days,
        settings.pending_receipt_retention_days,
        settings.message_text_retention_days,
    ) == (2, 9, 1, 14)
    defaults = Settings()
    assert defaults.receipt_window_seconds == 72 * 3600
    assert (
        defaults.callback_retention_days,
        defaults.receipt_retention_days,
        defaults.pending_receipt_retention_days,
        defaults.message_text_retention_days,
    ) == (7, 30, 3, 30)


@pytest.mark.parametrize(
    "variable",
    [
        "RECEIPT_WINDOW_SECONDS",
        "CALLBACK_RETENTION_DAYS",
        "RECEIPT_RETENTION_DAYS",
        "PENDING_RECEIPT_RETENTION_DAYS",
        "MESSAGE_TEXT_RETENTION_DAYS",
    ],
)
def test_settings_refuse_a_zero_window_or_retention(variable: str) -> None:
    with pytest.raises(ValueError, match="greater than or equal"):
        Settings.from_env({variable: "0"})


# --- adapters and receipt windows ----------------------------------------------------


def test_adapters_declare_whether_they_report_delivery() -> None:
    assert SimulatorProvider.reports_delivery is True
    assert SnsProvider.reports_delivery is False
    assert not any(cls.status_lookup for cls in PROVIDER_CLASSES.values())


def test_the_default_adapter_offers_no_status_lookup() -> None:
    class Bare(SmsProvider):
        kind = "bare"

        def _send(self, sms: OutboundSms) -> tuple[str, str | None]:
            raise AssertionError("not called")

    assert (Bare.reports_delivery, Bare.status_lookup) == (False, False)
    with pytest.raises(NotImplementedError):
        Bare("bare").lookup_status("m-1", datetime.now(UTC))


@pytest.mark.parametrize(
    ("config", "expected"),
    [({}, None), ({"receipt_window_seconds": None}, None), ({"receipt_window_seconds": 60}, 60)],
)
def test_a_configured_receipt_window(config: dict[str, Any], expected: int | None) -> None:
    assert configured_receipt_window(config) == expected


@pytest.mark.parametrize("value", [59, 0, -5, "3600", 3600.5, True])
def test_a_bad_receipt_window_is_a_bad_config(value: Any) -> None:
    config = {"receipt_window_seconds": value}
    with pytest.raises(ValueError, match="receipt_window_seconds"):
        configured_receipt_window(config)
    # The adapter refuses it too, so `smsgw providers add` does
    with pytest.raises(ValueError, match="receipt_window_seconds"):
        SimulatorProvider("alpha", {"url": "http://127.0.0.1:9", **config}, timeout_seconds=1)


class _LookupProvider:
    kind = "lookup"
    reports_delivery = True
    status_lookup = True

    @classmethod
    def from_settings(
        cls, name: str, config: Mapping[str, Any], settings: Settings
    ) -> SmsProvider:  # pragma: no cover - never built here
        raise AssertionError("not built")


def test_receipt_windows_of_the_registry() -> None:
    classes: dict[str, ProviderClass] = {**PROVIDER_CLASSES, "lookup": _LookupProvider}
    providers = [
        ProviderInfo("beta", "simulator", config={"receipt_window_seconds": 3600}),
        ProviderInfo("alpha", "simulator"),
        ProviderInfo("sns-eu", "sns"),
        # Disabled: what it sent before still waits for its receipts
        ProviderInfo("gamma", "simulator", enabled=False),
        ProviderInfo("delta", "lookup", config={"receipt_window_seconds": 7200}),
        ProviderInfo("odd", "carrier-pigeon"),
        ProviderInfo("broken", "simulator", config={"receipt_window_seconds": "soon"}),
    ]
    windows = receipt_windows(providers, classes, 3 * DAY)
    assert windows.windows == (
        ReceiptWindow("alpha", 3 * DAY),
        ReceiptWindow("beta", 3600),
        ReceiptWindow("broken", 3 * DAY),  # the default, with a problem reported
        ReceiptWindow("delta", 7200, lookup=True),
        ReceiptWindow("gamma", 3 * DAY),
    )
    assert [w.provider for w in windows.plain()] == ["alpha", "beta", "broken", "gamma"]
    assert [w.provider for w in windows.with_lookup()] == ["delta"]
    # SNS never reports delivery: its messages are not watched at all
    assert "sns-eu" not in {w.provider for w in windows.windows}
    assert set(windows.problems) == {"odd", "broken"}
    assert "unknown kind" in windows.problems["odd"]
