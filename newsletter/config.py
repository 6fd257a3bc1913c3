"""Settings from the environment, read once at the entry point and passed down as plain data.

Names that the ecosystem already uses keep their names (GITHUB_TOKEN, OPENAI_API_KEY, AWS_ENDPOINT_URL …);
the project's own start with NEWSLETTER_. Nothing below an entry point reads os.environ.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from newsletter.errors import ConfigError

# Where links in outbox mail point when NEWSLETTER_PUBLIC_URL is unset: `newsletter serve`'s default address.
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


def default_data_dir(env: Mapping[str, str]) -> Path:
    """Per-user data folder (XDG on Linux): the SQLite store, the outbox and the archive live here."""
    if env.get("NEWSLETTER_DATA_DIR"):
        return Path(env["NEWSLETTER_DATA_DIR"]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "newsletter"


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = (env.get(name) or choices[0]).strip().lower()
    if raw not in choices:
        raise ConfigError(f"{name}={raw!r} is not one of {', '.join(choices)}")
    return raw


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a yes/no value", hint="use 1 or 0")


def _float(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not value > 0:
        raise ConfigError(f"{name}={value} must be greater than 0")
    return value


def _url(env: Mapping[str, str], name: str) -> str | None:
    """An http(s) base URL, without its trailing slash: a typo here would otherwise surface deep inside a
    library (PyGithub, botocore, httpx) as a traceback."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name}={raw!r} is not an http(s) URL", hint="e.g. https://host[:port]/path")
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number or out of range)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} has an invalid port") from None
    return raw.rstrip("/")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    # GitHub
    github_api_url: str = "https://api.github.com"
    github_url: str = "https://github.com"
    github_token: str | None = None
    github_concurrency: int = 8
    github_bot_logins: frozenset[str] = frozenset()  # extra authors treated as bots, besides "*[bot]" logins
    # Language model (an OpenAI-compatible server); no key means the heuristic analyzer.
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    analysis_concurrency: int = 8
    diff_token_budget: int = 12_000  # estimated tokens of one commit's prompt (see analyze/budget.py)
    run_token_budget: int = 0  # tokens in+out per run; 0 = no cap
    llm_max_tokens: int = 2_000  # output tokens per analysis (doubled once when the answer is cut off)
    llm_response_format: str = "auto"  # auto | json_schema | json_object
    llm_max_retries: int = 4  # on 429/5xx/connection errors, honouring retry-after
    llm_timeout: float = 120.0
    llm_seed: int = 7
    triage: bool = True  # commits the heuristic is sure are trivial skip the model
    prices_file: Path | None = None  # TOML price table overriding the packaged one
    # Store: sqlite:///path (default, in data_dir) or dynamodb://table-prefix
    store_url: str = ""
    # AWS (boto3 reads these itself too; kept here so that nothing else reads os.environ)
    aws_region: str | None = None
    aws_endpoint_url: str | None = None
    # Mailing lists: one TOML file per list (never addresses); the secret that signs subscription tokens.
    lists_dir: Path = Path("subscribers")
    secret: str | None = None
    # Delivery: outbox (default, .eml files), smtp or ses; lists may override the sender.
    delivery: str = "outbox"
    outbox_dir: Path | None = None  # None: <data_dir>/outbox
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_tls: str = "starttls"  # starttls | tls | none
    send_rate: float | None = None  # messages per second; None: the provider's ceiling (SES), else unlimited
    send_concurrency: int = 8
    send_lease_seconds: float = 120.0
    ses_configuration_set: str | None = None
    unsubscribe_mailto: str | None = None  # None: the list's Reply-To or From address
    # AWS fan-out: the SQS queue of recipient batches, how many sender Lambdas share the send rate, batch size.
    send_queue_url: str | None = None
    sender_concurrency: int = 1
    send_batch_size: int = 50  # recipients per SQS message
    # Web archive: local:///path (default <data dir>/archive) or s3://bucket/prefix, and its public base URL
    archive_url: str = ""
    archive_public_url: str | None = None
    # Public base URL of the subscribe/confirm/unsubscribe/preferences endpoints (API Gateway in AWS)
    public_url: str | None = None
    # Without public_url, links point here (outbox mail only: smtp and ses require public_url); `newsletter serve`
    # sets it to the address it listens on.
    local_url: str = DEFAULT_PUBLIC_URL

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = default_data_dir(env)
        return cls(
            data_dir=data_dir,
            github_api_url=_url(env, "GITHUB_API_URL") or "https://api.github.com",
            github_url=_url(env, "GITHUB_URL") or "https://github.com",
            github_token=env.get("GITHUB_TOKEN") or None,
            github_concurrency=_int(env, "NEWSLETTER_GITHUB_CONCURRENCY", 8),
            github_bot_logins=frozenset(
                login.strip().lower() for login in env.get("NEWSLETTER_BOT_LOGINS", "").split(",") if login.strip()
            ),
            openai_api_key=env.get("OPENAI_API_KEY") or None,
            openai_base_url=_url(env, "OPENAI_BASE_URL"),
            openai_model=env.get("NEWSLETTER_MODEL") or env.get("OPENAI_MODEL") or "gpt-4o-mini",
            analysis_concurrency=_int(env, "NEWSLETTER_ANALYSIS_CONCURRENCY", 8),
            diff_token_budget=_int(env, "NEWSLETTER_PROMPT_TOKENS", 12_000, minimum=2_000),
            run_token_budget=_int(env, "NEWSLETTER_RUN_TOKEN_BUDGET", 0, minimum=0),
            llm_max_tokens=_int(env, "NEWSLETTER_MAX_OUTPUT_TOKENS", 2_000, minimum=256),
            llm_response_format=_choice(env, "NEWSLETTER_RESPONSE_FORMAT", ("auto", "json_schema", "json_object")),
            llm_max_retries=_int(env, "NEWSLETTER_LLM_RETRIES", 4, minimum=0),
            llm_timeout=float(_int(env, "NEWSLETTER_LLM_TIMEOUT", 120)),
            llm_seed=_int(env, "NEWSLETTER_LLM_SEED", 7, minimum=0),
            triage=_bool(env, "NEWSLETTER_TRIAGE", True),
            prices_file=Path(env["NEWSLETTER_PRICES"]).expanduser() if env.get("NEWSLETTER_PRICES") else None,
            store_url=env.get("NEWSLETTER_STORE") or f"sqlite:///{data_dir / 'newsletter.db'}",
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            aws_endpoint_url=_url(env, "AWS_ENDPOINT_URL"),
            lists_dir=Path(env.get("NEWSLETTER_LISTS_DIR") or "subscribers").expanduser(),
            secret=env.get("NEWSLETTER_SECRET") or None,
            delivery=_choice(env, "NEWSLETTER_DELIVERY", ("outbox", "smtp", "ses")),
            outbox_dir=Path(env["NEWSLETTER_OUTBOX"]).expanduser() if env.get("NEWSLETTER_OUTBOX") else None,
            smtp_host=env.get("SMTP_HOST") or None,
            smtp_port=_int(env, "SMTP_PORT", 587),
            smtp_username=env.get("SMTP_USERNAME") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            smtp_tls=_choice(env, "SMTP_TLS", ("starttls", "tls", "none")),
            send_rate=_float(env, "NEWSLETTER_SEND_RATE"),
            send_concurrency=_int(env, "NEWSLETTER_SEND_CONCURRENCY", 8),
            send_lease_seconds=_float(env, "NEWSLETTER_SEND_LEASE") or 120.0,
            ses_configuration_set=env.get("NEWSLETTER_SES_CONFIGURATION_SET") or None,
            unsubscribe_mailto=env.get("NEWSLETTER_UNSUBSCRIBE_MAILTO") or None,
            send_queue_url=env.get("NEWSLETTER_SEND_QUEUE_URL") or None,
            sender_concurrency=_int(env, "NEWSLETTER_SENDER_CONCURRENCY", 1),
            send_batch_size=_int(env, "NEWSLETTER_SEND_BATCH", 50),
            archive_url=env.get("NEWSLETTER_ARCHIVE") or f"local://{data_dir / 'archive'}",
            archive_public_url=(env.get("NEWSLETTER_ARCHIVE_URL") or "").rstrip("/") or None,
            public_url=(env.get("NEWSLETTER_PUBLIC_URL") or "").rstrip("/") or None,
        )

    def links_url(self) -> str:
        """The base URL that links to the public pages are built on."""
        return self.public_url or self.local_url

    def require_secret(self) -> str:
        """The token secret, for the commands that sign or read subscription links."""
        if not self.secret:
            raise ConfigError(
                "NEWSLETTER_SECRET is not set",
                hint="set it to a long random string: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
            )
        return self.secret
