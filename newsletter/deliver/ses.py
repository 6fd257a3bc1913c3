"""Amazon SES v2: ``send_email`` with raw content (our own MIME, headers and all)."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError

from newsletter.errors import AmbiguousDeliveryError, DeliveryError, PermanentDeliveryError, TransientDeliveryError

# SES error codes, by what the campaign should do about them.
_TRANSIENT = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "LimitExceededException",
    "ServiceUnavailable",
    "InternalFailure",
    "RequestTimeout",
}
_PERMANENT = {"MessageRejected", "InvalidParameterValue", "BadRequestException"}
# Account-wide refusals: every other recipient would fail the same way, so the campaign stops instead of
# marking the whole list as failed.
_ACCOUNT = {
    "MailFromDomainNotVerifiedException",
    "MailFromDomainNotVerified",
    "AccountSuspendedException",
    "SendingPausedException",
    "ConfigurationSetDoesNotExist",
    "NotFoundException",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
}


def _code(err: ClientError) -> tuple[str, int]:
    return str(err.response.get("Error", {}).get("Code", "")), int(
        err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    )


class SesSender:
    name = "ses"

    def __init__(
        self,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        configuration_set: str | None = None,
        read_timeout: float = 60.0,
    ) -> None:
        self.configuration_set = configuration_set
        # The campaign retries with its own backoff and rate; botocore's retries would hide throttling from it,
        # and would resend a request whose answer was lost (a second copy in the reader's inbox).
        config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=64,
            read_timeout=read_timeout,
        )
        self._session = boto3.session.Session(region_name=region or "us-east-1")
        self._client_args: dict[str, Any] = {"endpoint_url": endpoint_url, "config": config}
        self._client = self._session.client("sesv2", **self._client_args)
        self._lock = threading.Lock()

    def send(self, raw: bytes, *, sender: str, recipient: str) -> str:
        if not recipient.isascii():
            raise PermanentDeliveryError(
                f"SES cannot send to {recipient}: it takes no non-ASCII characters before the @"
            )
        args: dict[str, Any] = {
            "FromEmailAddress": sender,
            "Destination": {"ToAddresses": [recipient]},
            "Content": {"Raw": {"Data": raw}},
        }
        if self.configuration_set:
            args["ConfigurationSetName"] = self.configuration_set
        try:
            answer = self._client.send_email(**args)
        except ClientError as err:
            code, status = _code(err)
            text = f"SES refused the message to {recipient}: {code} {err.response.get('Error', {}).get('Message', '')}"
            if code in _TRANSIENT or status == 429 or status >= 500:
                raise TransientDeliveryError(text.strip()) from err
            if code in _ACCOUNT:
                raise DeliveryError(text.strip(), hint="check the SES identity, account and configuration set") from err
            if code in _PERMANENT or 400 <= status < 500:
                raise PermanentDeliveryError(text.strip()) from err
            raise TransientDeliveryError(text.strip()) from err
        except HTTPClientError as err:
            # The request was (or may have been) written and the answer was lost (read timeout, connection closed):
            # SES may have accepted it, so it is not retried on a guess.
            raise AmbiguousDeliveryError(f"SES took the message to {recipient} but its answer was lost: {err}") from err
        except BotoCoreError as err:
            # Connection refused, connect timeout, DNS: nothing was handed over, so it may be retried.
            raise TransientDeliveryError(f"SES could not be reached: {err}") from err
        return str(answer["MessageId"])

    def max_send_rate(self) -> float | None:
        """The account's maximum send rate (sesv2 GetAccount, or SES v1 GetSendQuota where v2 is missing)."""
        try:
            return float(self._client.get_account()["SendQuota"]["MaxSendRate"])
        except (ClientError, BotoCoreError, KeyError):
            pass
        try:
            v1 = self._session.client("ses", **self._client_args)
            return float(v1.get_send_quota()["MaxSendRate"])
        except (ClientError, BotoCoreError, KeyError) as err:
            raise DeliveryError(
                f"cannot read the SES sending quota: {err}", hint="set NEWSLETTER_SEND_RATE to the account's max rate"
            ) from err

    def describe(self) -> str:
        endpoint = self._client_args["endpoint_url"]
        return f"Amazon SES {self._session.region_name}" + (f" at {endpoint}" if endpoint else "")

    def close(self) -> None:
        self._client.close()
