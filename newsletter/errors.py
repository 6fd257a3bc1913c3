"""One exception root for everything the project expects to go wrong.

Errors from libraries (PyGithub, openai, boto3, smtplib, sqlite3) are wrapped where they enter
(``raise GitHubError(...) from err``), so callers above a stage only ever see these classes. The CLI and
the Lambda handlers turn them into one readable line (plus the hint) and a non-zero exit or an HTTP status.
"""

from __future__ import annotations


class NewsletterError(Exception):
    """Root of every expected failure. ``hint`` says what the person can do about it."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputError(NewsletterError):
    """Something a person typed or a file they wrote is malformed."""

    exit_code = 2


class ConfigError(NewsletterError):
    """Settings from the environment or a list file are missing or invalid."""

    exit_code = 2


class GitHubError(NewsletterError):
    """GitHub refused or failed a request (after retries)."""


class NotFoundError(GitHubError):
    """Unknown repository or branch (GitHub answered 404)."""


class AuthError(GitHubError):
    """Bad credentials (GitHub answered 401)."""


class RateLimitedError(GitHubError):
    """GitHub's rate limit resets too far in the future to wait for."""

    def __init__(self, message: str, *, reset_in: float | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reset_in = reset_in


class GitHubUnavailableError(GitHubError):
    """GitHub kept answering 5xx (an outage) after the retries."""


class NetworkError(NewsletterError):
    """A server could not be reached at all (after retries)."""


class AnalysisError(NewsletterError):
    """The language model failed in a way the heuristic fallback cannot cover."""


class StoreError(NewsletterError):
    """The store (SQLite or DynamoDB) failed or holds something unexpected."""


class ConflictError(StoreError):
    """A conditional write lost a race: someone else already holds this record."""


class TokenError(InputError):
    """A subscription token is tampered with, expired or meant for something else."""


class DeliveryError(NewsletterError):
    """A message could not be handed to the mail provider."""


class TransientDeliveryError(DeliveryError):
    """Throttling, 5xx, connection trouble: try again later."""


class PermanentDeliveryError(DeliveryError):
    """The provider rejected this message or recipient for good."""


class AmbiguousDeliveryError(DeliveryError):
    """The message was handed over (SMTP after DATA, SES after the request was written) but the answer was lost:
    it may have been accepted, so sending it again could deliver it twice."""


class ArchiveError(NewsletterError):
    """The web archive (a local folder or an S3 bucket) could not be read or written."""
