"""Settings from the environment, read once at the entry point and passed down as plain data.

Names that the ecosystem already uses keep their names (GITHUB_TOKEN, OPENAI_API_KEY, AWS_ENDPOINT_URL …);
the project's own start with NEWSLETTER_. Nothing below an entry point reads os.environ. pydantic-settings
reads the variables (each field's alias is its variable); the validators below only exist to keep the
errors to one line that names the variable and what is wrong with it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, BeforeValidator, Field, ValidationError, ValidationInfo
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from newsletter.errors import ConfigError

# Where links in outbox mail point when NEWSLETTER_PUBLIC_URL is unset: `newsletter serve`'s default address.
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"

_GITHUB_API = "https://api.github.com"
_GITHUB_WEB = "https://github.com"


def _fail(message: str, hint: str = "") -> PydanticCustomError:
    return PydanticCustomError("setting", "{message}", {"message": message, "hint": hint})


def _name(info: ValidationInfo) -> str:
    """The variable a field is read from, for the error line."""
    alias = Settings.model_fields[info.field_name or ""].validation_alias
    return alias if isinstance(alias, str) else str(info.field_name)


def _whole(minimum: int = 1) -> BeforeValidator:
    def check(raw: Any, info: ValidationInfo) -> int:
        if isinstance(raw, int):
            value = raw
        else:
            try:
                value = int(raw)
            except ValueError:
                raise _fail(f"{_name(info)}={raw!r} is not a whole number") from None
        if value < minimum:
            raise _fail(f"{_name(info)}={value} must be at least {minimum}")
        return value

    return BeforeValidator(check)


def _positive(raw: Any, info: ValidationInfo) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise _fail(f"{_name(info)}={raw!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:  # inf passed a "> 0" check and overflowed where it was used
        raise _fail(f"{_name(info)}={value} must be a finite number greater than 0")
    return value


def _one_of(*choices: str) -> BeforeValidator:
    def check(raw: Any, info: ValidationInfo) -> str:
        value = str(raw).strip().lower()
        if value not in choices:
            raise _fail(f"{_name(info)}={value!r} is not one of {', '.join(choices)}")
        return value

    return BeforeValidator(check)


def _yes_no(raw: Any, info: ValidationInfo) -> bool:
    value = str(raw).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise _fail(f"{_name(info)}={value!r} is not a yes/no value", "use 1 or 0")


def _url(raw: Any, info: ValidationInfo) -> str | None:
    """An http(s) base URL, without its trailing slash: a typo here would otherwise surface deep inside a
    library (PyGithub, botocore, httpx) as a traceback."""
    value = str(raw).strip()
    if not value:
        return Settings.model_fields[info.field_name or ""].get_default()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _fail(f"{_name(info)}={value!r} is not an http(s) URL", "e.g. https://host[:port]/path")
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number or out of range)
    except ValueError:
        raise _fail(f"{_name(info)}={value!r} has an invalid port") from None
    return value.rstrip("/")


def _base_url(raw: Any) -> str | None:
    return str(raw).rstrip("/") or None


def _logins(raw: Any) -> frozenset[str]:
    if not isinstance(raw, str):
        return frozenset(raw)
    return frozenset(login.strip().lower() for login in raw.split(",") if login.strip())


def _path(raw: Any) -> Path:
    return Path(raw).expanduser()


def _env(name: str, *more: str) -> Any:
    return AliasChoices(name, *more) if more else name


Whole = Annotated[int, _whole()]
Url = Annotated[str, BeforeValidator(_url)]
OptionalUrl = Annotated[str | None, BeforeValidator(_url)]
Folder = Annotated[Path, BeforeValidator(_path)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        case_sensitive=True, env_ignore_empty=True, frozen=True, extra="ignore", validate_default=False
    )

    # Per-user data folder (XDG on Linux): the SQLite store, the outbox and the archive live here.
    xdg_data_home: str | None = Field(None, validation_alias="XDG_DATA_HOME", exclude=True, repr=False)
    # Defaults computed from fields read before them take the already-read fields (``seen``).
    data_dir: Folder = Field(
        default_factory=lambda seen: Path(seen["xdg_data_home"] or Path.home() / ".local" / "share") / "newsletter",
        validation_alias="NEWSLETTER_DATA_DIR",
    )
    # GitHub
    github_api_url: Url = Field(_GITHUB_API, validation_alias="GITHUB_API_URL")
    github_url: Url = Field(_GITHUB_WEB, validation_alias="GITHUB_URL")
    github_token: str | None = Field(None, validation_alias="GITHUB_TOKEN", repr=False)
    github_concurrency: Whole = Field(8, validation_alias="NEWSLETTER_GITHUB_CONCURRENCY")
    # extra authors treated as bots, besides "*[bot]" logins
    github_bot_logins: Annotated[frozenset[str], NoDecode, BeforeValidator(_logins)] = Field(
        frozenset(), validation_alias="NEWSLETTER_BOT_LOGINS"
    )
    # Language model (an OpenAI-compatible server); no key means the heuristic analyzer.
    openai_api_key: str | None = Field(None, validation_alias="OPENAI_API_KEY", repr=False)
    openai_base_url: OptionalUrl = Field(None, validation_alias="OPENAI_BASE_URL")
    openai_model: str = Field("gpt-4o-mini", validation_alias=_env("NEWSLETTER_MODEL", "OPENAI_MODEL"))
    analysis_concurrency: Whole = Field(8, validation_alias="NEWSLETTER_ANALYSIS_CONCURRENCY")
    # estimated tokens of one commit's prompt (see analyze/budget.py)
    diff_token_budget: Annotated[int, _whole(2_000)] = Field(12_000, validation_alias="NEWSLETTER_PROMPT_TOKENS")
    run_token_budget: Annotated[int, _whole(0)] = Field(0, validation_alias="NEWSLETTER_RUN_TOKEN_BUDGET")  # 0: no cap
    # output tokens per analysis (doubled once when the answer is cut off)
    llm_max_tokens: Annotated[int, _whole(256)] = Field(2_000, validation_alias="NEWSLETTER_MAX_OUTPUT_TOKENS")
    llm_response_format: Annotated[str, _one_of("auto", "json_schema", "json_object")] = Field(
        "auto", validation_alias="NEWSLETTER_RESPONSE_FORMAT"
    )
    # on 429/5xx/connection errors, honouring retry-after
    llm_max_retries: Annotated[int, _whole(0)] = Field(4, validation_alias="NEWSLETTER_LLM_RETRIES")
    llm_timeout: Annotated[float, _whole()] = Field(120.0, validation_alias="NEWSLETTER_LLM_TIMEOUT")
    llm_seed: Annotated[int, _whole(0)] = Field(7, validation_alias="NEWSLETTER_LLM_SEED")
    # commits the heuristic is sure are trivial skip the model
    triage: Annotated[bool, BeforeValidator(_yes_no)] = Field(True, validation_alias="NEWSLETTER_TRIAGE")
    prices_file: Folder | None = Field(None, validation_alias="NEWSLETTER_PRICES")  # overrides the packaged table
    # Store: sqlite:///path (default, in data_dir) or dynamodb://table-prefix
    store_url: str = Field(
        default_factory=lambda seen: f"sqlite:///{seen['data_dir'] / 'newsletter.db'}",
        validation_alias="NEWSLETTER_STORE",
    )
    # AWS (boto3 reads these itself too; kept here so that nothing else reads os.environ)
    aws_region: str | None = Field(None, validation_alias=_env("AWS_REGION", "AWS_DEFAULT_REGION"))
    aws_endpoint_url: OptionalUrl = Field(None, validation_alias="AWS_ENDPOINT_URL")
    # Mailing lists: one TOML file per list (never addresses); the secret that signs subscription tokens.
    lists_dir: Folder = Field(Path("subscribers"), validation_alias="NEWSLETTER_LISTS_DIR")
    secret: str | None = Field(None, validation_alias="NEWSLETTER_SECRET", repr=False)
    # Delivery: outbox (default, .eml files), smtp or ses; lists may override the sender.
    delivery: Annotated[str, _one_of("outbox", "smtp", "ses")] = Field("outbox", validation_alias="NEWSLETTER_DELIVERY")
    outbox_dir: Folder | None = Field(None, validation_alias="NEWSLETTER_OUTBOX")  # None: <data_dir>/outbox
    smtp_host: str | None = Field(None, validation_alias="SMTP_HOST")
    smtp_port: Whole = Field(587, validation_alias="SMTP_PORT")
    smtp_username: str | None = Field(None, validation_alias="SMTP_USERNAME")
    smtp_password: str | None = Field(None, validation_alias="SMTP_PASSWORD", repr=False)
    smtp_tls: Annotated[str, _one_of("starttls", "tls", "none")] = Field("starttls", validation_alias="SMTP_TLS")
    # messages per second; None: the provider's ceiling (SES), else unlimited
    send_rate: Annotated[float | None, BeforeValidator(_positive)] = Field(
        None, validation_alias="NEWSLETTER_SEND_RATE"
    )
    send_concurrency: Whole = Field(8, validation_alias="NEWSLETTER_SEND_CONCURRENCY")
    send_lease_seconds: Annotated[float, BeforeValidator(_positive)] = Field(
        120.0, validation_alias="NEWSLETTER_SEND_LEASE"
    )
    ses_configuration_set: str | None = Field(None, validation_alias="NEWSLETTER_SES_CONFIGURATION_SET")
    # None: the list's Reply-To or From address
    unsubscribe_mailto: str | None = Field(None, validation_alias="NEWSLETTER_UNSUBSCRIBE_MAILTO")
    # AWS fan-out: the SQS queue of recipient batches, how many sender Lambdas share the send rate, batch size.
    send_queue_url: str | None = Field(None, validation_alias="NEWSLETTER_SEND_QUEUE_URL")
    sender_concurrency: Whole = Field(1, validation_alias="NEWSLETTER_SENDER_CONCURRENCY")
    send_batch_size: Whole = Field(50, validation_alias="NEWSLETTER_SEND_BATCH")  # recipients per SQS message
    # Web archive: local:///path (default <data dir>/archive) or s3://bucket/prefix, and its public base URL
    archive_url: str = Field(
        default_factory=lambda seen: f"local://{seen['data_dir'] / 'archive'}", validation_alias="NEWSLETTER_ARCHIVE"
    )
    archive_public_url: Annotated[str | None, BeforeValidator(_base_url)] = Field(
        None, validation_alias="NEWSLETTER_ARCHIVE_URL"
    )
    # Public base URL of the subscribe/confirm/unsubscribe/preferences endpoints (API Gateway in AWS)
    public_url: OptionalUrl = Field(None, validation_alias="NEWSLETTER_PUBLIC_URL")  # http(s): it goes into links

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings  # no .env file, no secrets folder: the environment is the config

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The process environment (read by pydantic-settings), or the given variables (Lambda: the environment
        plus the secrets from SSM; tests). Empty variables count as unset in both."""
        try:
            if env is None:
                return cls()
            return _Given(**{name: env[name] for name in _variables() if env.get(name)})
        except ValidationError as err:
            first = err.errors()[0]
            ctx = first.get("ctx") or {}
            if first["type"] == "setting":
                raise ConfigError(ctx["message"], hint=ctx["hint"] or None) from None
            where = ".".join(str(part) for part in first["loc"])
            raise ConfigError(f"{where}: {first['msg']}") from None

    def links_url(self) -> str:
        """The base URL that links to the public pages are built on (outbox mail only without public_url:
        smtp and ses delivery require it)."""
        return self.public_url or DEFAULT_PUBLIC_URL

    def require_secret(self) -> str:
        """The token secret, for the commands that sign or read subscription links."""
        if not self.secret:
            raise ConfigError(
                "NEWSLETTER_SECRET is not set",
                hint="set it to a long random string: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
            )
        return self.secret


class _Given(Settings):
    """Settings from given variables only: what ``from_env`` was handed is all there is."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


@functools.cache
def _variables() -> frozenset[str]:
    """Every variable a setting is read from."""
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names.update(alias.choices if isinstance(alias, AliasChoices) else [alias])
    return frozenset(n for n in names if isinstance(n, str))
