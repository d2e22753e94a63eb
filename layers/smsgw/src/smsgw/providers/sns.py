"""Adapter for Amazon SNS direct SMS (``Publish`` with ``PhoneNumber``).

SNS has no idempotency key for SMS: ``Publish`` cannot carry our tracking id, so a
message redelivered by SQS after a crash between a successful publish and our database
write is sent twice. Dispatch's lease (a claimed message is not resent by another
receive for a while) keeps that window as small as the crash itself; it cannot close it.

The boto3 call is one small method, ``_publish``, so the code table can be tested with
real botocore exceptions from a subclass, while everything else runs against moto.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Self

from smsgw.aws import aws_client
from smsgw.budget import budget_for
from smsgw.domain.phone import is_e164_shape
from smsgw.providers.base import CodeMapping, OutboundSms, ProviderError, SmsProvider

if TYPE_CHECKING:
    from smsgw.config import Settings

SMS_TYPES: Final = ("Transactional", "Promotional")

INVALID_NUMBER: Final = CodeMapping("INVALID_NUMBER", False, "the number cannot receive SMS")
REJECTED: Final = CodeMapping("REJECTED", False, "SNS refused the message parameters")
THROTTLED: Final = CodeMapping("PROVIDER_THROTTLED", True, "SNS throttled the account")
UNAVAILABLE: Final = CodeMapping("PROVIDER_UNAVAILABLE", True, "SNS unavailable")
AUTH: Final = CodeMapping("PROVIDER_AUTH", True, "SNS refused our credentials or key")
TIMED_OUT: Final = CodeMapping("PROVIDER_TIMEOUT", True, "SNS did not answer in time")
UNKNOWN_ERROR: Final = CodeMapping("PROVIDER_ERROR", True, "unexpected SNS error")

# botocore ClientError code -> ours. SNS's Query API and the JSON protocol of newer
# SDKs spell some codes differently (Throttling / ThrottlingException), hence pairs.
CODE_TABLE: Final[dict[str, CodeMapping]] = {
    # Resolved further by _invalid_parameter: SNS uses one code for a bad number and
    # for any other bad parameter (message too long, bad sender id).
    "InvalidParameter": INVALID_NUMBER,
    "InvalidParameterValue": INVALID_NUMBER,
    # The recipient replied STOP to our SNS number. Sending through another provider
    # would route around the opt-out, so this is final for the message.
    "OptedOut": CodeMapping("OPTED_OUT", False, "the recipient opted out of SMS"),
    "OptedOutException": CodeMapping("OPTED_OUT", False, "the recipient opted out of SMS"),
    "Throttling": THROTTLED,
    "ThrottledException": THROTTLED,
    "ThrottlingException": THROTTLED,
    "InternalError": UNAVAILABLE,
    "InternalFailure": UNAVAILABLE,
    "ServiceUnavailable": UNAVAILABLE,
    # Credentials, IAM and KMS problems are our configuration, not the message: fail
    # over to a provider that works while someone fixes the role or key.
    "AuthorizationError": AUTH,
    "AccessDenied": AUTH,
    "AccessDeniedException": AUTH,
    "InvalidClientTokenId": AUTH,
    "UnrecognizedClientException": AUTH,
    "ExpiredToken": AUTH,
    "ExpiredTokenException": AUTH,
    "SignatureDoesNotMatch": AUTH,
}
# KMSDisabled, KMSNotFound, KMSAccessDenied, KMSInvalidState, KMSOptInRequired, ...
_KMS_PREFIX: Final = "KMS"


class SnsProvider(SmsProvider):
    """Config keys: ``region`` (default: the gateway's AWS region) and ``sms_type``
    (``Transactional``, the default, or ``Promotional``)."""

    kind = "sns"
    idempotent_reference = False  # Publish has no idempotency key: a repeat is a 2nd SMS
    # Direct SMS publishes send no delivery receipts to the gateway: ``sent`` is the
    # last status of a message sent through SNS, and reconciliation leaves it there.
    reports_delivery = False

    def __init__(
        self,
        name: str,
        config: Mapping[str, Any] | None,
        region: str,
        timeout_seconds: float = 5.0,
    ) -> None:
        super().__init__(name, dict(config or {}))
        self.region = str(self.config.get("region") or region)
        self.timeout = timeout_seconds
        sms_type = self.config.get("sms_type", "Transactional")
        if sms_type not in SMS_TYPES:
            raise ValueError(f"provider {name!r}: sms_type must be one of {SMS_TYPES}")
        self.sms_type: str = sms_type

    @classmethod
    def from_settings(cls, name: str, config: Mapping[str, Any], settings: Settings) -> Self:
        return cls(name, config, settings.aws_region, budget_for(settings).provider)

    def publish_params(self, sms: OutboundSms) -> dict[str, Any]:
        """The keyword arguments of ``sns.publish`` for one message."""
        attributes = {"AWS.SNS.SMS.SMSType": _string(self.sms_type)}
        if sms.sender:
            if is_e164_shape(sms.sender):
                # A long code / toll-free number / short code we own: SNS ignores
                # SenderID for it and wants the origination number attribute instead.
                attributes["AWS.MM.SMS.OriginationNumber"] = _string(sms.sender)
            else:
                # Honoured only where the destination country supports alphanumeric
                # sender ids; elsewhere SNS silently sends from one of its numbers.
                attributes["AWS.SNS.SMS.SenderID"] = _string(sms.sender)
        return {"PhoneNumber": sms.to, "Message": sms.text, "MessageAttributes": attributes}

    def _send(self, sms: OutboundSms) -> tuple[str, str | None]:
        response = self._publish(self.publish_params(sms))
        message_id = response.get("MessageId")
        if not isinstance(message_id, str) or not message_id:
            raise ProviderError(
                self.name,
                UNKNOWN_ERROR.error_code,
                "SNS answered without a MessageId",
                transient=True,
                raw_code="NoMessageId",
            )
        return message_id, None

    def _publish(self, params: dict[str, Any]) -> dict[str, Any]:
        """The one boto3 call. One attempt only: failover and retries are dispatch's."""
        client = aws_client("sns", self.region, max_attempts=1, timeout=self.timeout)
        response: dict[str, Any] = client.publish(**params)
        return response

    def _map_exception(self, exc: Exception) -> ProviderError:
        # botocore is loaded by now (the call that raised went through it); importing
        # here keeps it off the import path of functions that never reach SNS.
        from botocore import exceptions as aws_errors

        if isinstance(exc, aws_errors.ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            mapping = CODE_TABLE.get(code)
            if code in {"InvalidParameter", "InvalidParameterValue"}:
                mapping = _invalid_parameter(str(error.get("Message", "")))
            elif mapping is None and code.startswith(_KMS_PREFIX):
                mapping = AUTH
            return self._error(mapping or UNKNOWN_ERROR, code or "ClientError")
        # Timeouts first: botocore's timeout classes are also ConnectionError-like. A
        # read timeout or a connection closed after sending may hide a Publish that
        # went out: uncertain, so dispatch does not publish it again anywhere.
        if isinstance(exc, aws_errors.ReadTimeoutError | aws_errors.ConnectionClosedError):
            error = self._error(TIMED_OUT, type(exc).__name__)
            error.uncertain = True
            return error
        if isinstance(exc, aws_errors.ConnectTimeoutError):
            return self._error(TIMED_OUT, type(exc).__name__)
        if isinstance(exc, aws_errors.ConnectionError | aws_errors.HTTPClientError):
            # EndpointConnectionError, ConnectionClosedError: SNS, or the network to it.
            return self._error(UNAVAILABLE, type(exc).__name__)
        if isinstance(exc, aws_errors.NoCredentialsError | aws_errors.PartialCredentialsError):
            return self._error(AUTH, type(exc).__name__)
        return super()._map_exception(exc)


def _invalid_parameter(message: str) -> CodeMapping:
    """InvalidParameter is about the number only when SNS names the phone number
    ("Invalid parameter: PhoneNumber Reason: ..."); about anything else (message too
    long, a sender id SNS refuses) the message is still refused, so REJECTED."""
    compact = message.lower().replace(" ", "").replace("_", "")
    return INVALID_NUMBER if "phonenumber" in compact else REJECTED


def _string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}
