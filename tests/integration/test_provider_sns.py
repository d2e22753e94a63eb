"""SnsProvider against moto's SNS, plus its code table fed with real botocore errors."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from smsgw.aws import aws_client, reset_clients
from smsgw.providers.base import OutboundSms, ProviderError
from smsgw.providers.sns import SnsProvider

NUMBER = "+447700900123"
TEXT = "Your code is 918273"
REGION = "us-east-1"


@pytest.fixture
def sns() -> Iterator[None]:
    # A client cached outside the mock would talk to real AWS (or fail): forget it on
    # the way in, and the mocked one on the way out.
    reset_clients()
    with mock_aws():
        yield
    reset_clients()


def sms(text: str = TEXT, to: str = NUMBER, sender: str | None = None) -> OutboundSms:
    return OutboundSms(str(uuid.uuid4()), to, sender, text, 1, "GSM-7")


def sent_sms(region: str = REGION) -> dict[str, tuple[str, str]]:
    return dict(sns_backends[DEFAULT_ACCOUNT_ID][region].sms_messages)


def send_error(provider: SnsProvider, message: OutboundSms) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        provider.send(message)
    return caught.value


@pytest.fixture
def published_params(sns: None) -> list[dict[str, Any]]:
    """The keyword arguments of every Publish call made through the shared client, as
    botocore saw them (a hook on the real client, not a stand-in for it)."""
    seen: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(dict(params))

    client = aws_client("sns", REGION, max_attempts=1, timeout=5.0)  # what SnsProvider uses
    client.meta.events.register("provide-client-params.sns.Publish", record)
    return seen


@pytest.mark.usefixtures("sns")
def test_publish_to_a_valid_number_returns_the_sns_message_id() -> None:
    result = SnsProvider("sns", {}, REGION).send(sms())

    assert result.provider == "sns"
    assert result.provider_message_id
    assert sent_sms() == {result.provider_message_id: (NUMBER, TEXT)}


@pytest.mark.usefixtures("sns")
def test_region_from_config_wins_over_the_default() -> None:
    result = SnsProvider("sns-eu", {"region": "eu-west-1"}, REGION).send(sms())
    assert result.provider_message_id in sent_sms("eu-west-1")
    assert sent_sms(REGION) == {}


@pytest.mark.parametrize(
    ("sender", "config", "expected"),
    [
        (None, {}, {"AWS.SNS.SMS.SMSType": "Transactional"}),
        (
            "ACME",
            {},
            {"AWS.SNS.SMS.SMSType": "Transactional", "AWS.SNS.SMS.SenderID": "ACME"},
        ),
        (
            "+14155550100",
            {"sms_type": "Promotional"},
            {
                "AWS.SNS.SMS.SMSType": "Promotional",
                "AWS.MM.SMS.OriginationNumber": "+14155550100",
            },
        ),
    ],
)
def test_sender_and_sms_type_become_message_attributes(
    published_params: list[dict[str, Any]],
    sender: str | None,
    config: dict[str, Any],
    expected: dict[str, str],
) -> None:
    SnsProvider("sns", config, REGION).send(sms(sender=sender))

    [params] = published_params
    assert params["PhoneNumber"] == NUMBER
    assert params["Message"] == TEXT
    attributes = params["MessageAttributes"]
    assert {key: value["StringValue"] for key, value in attributes.items()} == expected
    assert {value["DataType"] for value in attributes.values()} == {"String"}


@pytest.mark.usefixtures("sns")
def test_moto_rejects_a_malformed_number_as_invalid_number() -> None:
    # moto checks the E.164 shape (a country code cannot start with 0), as SNS does.
    error = send_error(SnsProvider("sns", {}, REGION), sms(to="+0447700900123"))

    assert (error.error_code, error.transient, error.raw_code) == (
        "INVALID_NUMBER",
        False,
        "InvalidParameter",
    )
    assert "0447700900123" not in error.message  # SNS's text (which quotes the number) is not kept


@pytest.mark.usefixtures("sns")
def test_invalid_parameter_not_about_the_number_is_rejected() -> None:
    # moto refuses SMS over 1600 bytes with InvalidParameter, as SNS does.
    error = send_error(SnsProvider("sns", {}, REGION), sms(text="x" * 1601))
    assert (error.error_code, error.transient, error.raw_code) == (
        "REJECTED",
        False,
        "InvalidParameter",
    )


def test_unknown_sms_type_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="sms_type"):
        SnsProvider("sns", {"sms_type": "Urgent"}, REGION)


def test_unreachable_endpoint_is_transient_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    # A real connection to a port nobody listens on (AWS_ENDPOINT_URL is how LocalStack
    # is reached too), through the shared client with its own short retry.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    reset_clients()
    try:
        error = send_error(SnsProvider("sns", {}, REGION), sms())
    finally:
        reset_clients()
    assert (error.error_code, error.transient, error.raw_code) == (
        "PROVIDER_UNAVAILABLE",
        True,
        "EndpointConnectionError",
    )


# -- the code table, fed with real botocore exceptions ------------------------------------


class RaisingSns(SnsProvider):
    """SnsProvider whose one boto3 call raises a given botocore exception."""

    def __init__(self, exc: Exception) -> None:
        super().__init__("sns", {}, REGION)
        self.exc = exc

    def _publish(self, params: dict[str, Any]) -> dict[str, Any]:
        raise self.exc


def client_error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Publish")


@pytest.mark.parametrize(
    ("code", "message", "error_code", "transient"),
    [
        (
            "InvalidParameter",
            "Invalid parameter: PhoneNumber Reason: +1555 is not valid to publish to",
            "INVALID_NUMBER",
            False,
        ),
        ("InvalidParameterValue", "Invalid phone number", "INVALID_NUMBER", False),
        ("InvalidParameter", "Invalid parameter: Message too long", "REJECTED", False),
        ("InvalidParameterValue", "Invalid SenderID", "REJECTED", False),
        ("OptedOut", "", "OPTED_OUT", False),
        ("OptedOutException", "", "OPTED_OUT", False),
        ("Throttling", "Rate exceeded", "PROVIDER_THROTTLED", True),
        ("ThrottledException", "", "PROVIDER_THROTTLED", True),
        ("ThrottlingException", "", "PROVIDER_THROTTLED", True),
        ("InternalError", "", "PROVIDER_UNAVAILABLE", True),
        ("InternalFailure", "", "PROVIDER_UNAVAILABLE", True),
        ("ServiceUnavailable", "", "PROVIDER_UNAVAILABLE", True),
        ("AuthorizationError", "", "PROVIDER_AUTH", True),
        ("AccessDenied", "", "PROVIDER_AUTH", True),
        ("InvalidClientTokenId", "", "PROVIDER_AUTH", True),
        ("KMSAccessDenied", "", "PROVIDER_AUTH", True),
        ("KMSDisabled", "", "PROVIDER_AUTH", True),
        ("SomethingNew", "", "PROVIDER_ERROR", True),
    ],
)
def test_client_error_codes_map_to_ours(
    code: str, message: str, error_code: str, transient: bool
) -> None:
    error = send_error(RaisingSns(client_error(code, message)), sms())

    assert (error.provider, error.error_code, error.transient) == ("sns", error_code, transient)
    assert error.raw_code == code
    assert "+1555" not in error.message


@pytest.mark.parametrize(
    ("exc", "error_code"),
    [
        (EndpointConnectionError(endpoint_url="https://sns.test"), "PROVIDER_UNAVAILABLE"),
        (ConnectTimeoutError(endpoint_url="https://sns.test"), "PROVIDER_TIMEOUT"),
        (ReadTimeoutError(endpoint_url="https://sns.test"), "PROVIDER_TIMEOUT"),
        (NoCredentialsError(), "PROVIDER_AUTH"),
        (RuntimeError("boom"), "PROVIDER_ERROR"),
    ],
)
def test_transport_errors_are_transient(exc: Exception, error_code: str) -> None:
    error = send_error(RaisingSns(exc), sms())
    assert (error.error_code, error.transient, error.raw_code) == (
        error_code,
        True,
        type(exc).__name__ if error_code != "PROVIDER_ERROR" else None,
    )


def test_answer_without_message_id_is_transient() -> None:
    class Empty(SnsProvider):
        def _publish(self, params: dict[str, Any]) -> dict[str, Any]:
            return {}

    error = send_error(Empty("sns", {}, REGION), sms())
    assert (error.error_code, error.transient) == ("PROVIDER_ERROR", True)
