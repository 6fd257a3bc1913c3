"""GitHub's public Atom feed of a branch (``{GITHUB_URL}/{owner}/{repo}/commits/{branch}.atom``), parsed by
feedparser from bytes fetched here (so that timeouts and retries are ours).

It costs no API quota, so it serves twice: as a pre-check (the newest entry is older than the window: the day
is empty and no API request is needed) and as the ``--allow-degraded`` fallback when the API refuses. It holds
only the 20 newest commits and no files, stats or pull requests.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import feedparser
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from newsletter.config import Settings
from newsletter.errors import GitHubError, GitHubUnavailableError, NetworkError, NotFoundError
from newsletter.models import Commit, Person, RepoSpec, Window

FEED_SIZE = 20
_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class FeedEntry:
    sha: str
    url: str
    title: str
    message: str
    author_name: str
    author_login: str | None
    updated: datetime  # the commit's committer date, UTC

    def to_commit(self) -> Commit:
        author = Person(name=self.author_name, login=self.author_login)
        return Commit(
            sha=self.sha,
            url=self.url,
            title=self.title,
            message=self.message,
            author=author,
            committed_at=self.updated,
            authored_at=self.updated,
            is_merge=self.title.startswith(("Merge pull request #", "Merge branch ")),
            degraded=True,
        )


@dataclass(frozen=True)
class Feed:
    branch: str | None  # from the feed's own link; tells the default branch when none was asked for
    entries: list[FeedEntry]

    @property
    def newest(self) -> datetime | None:
        return max((e.updated for e in self.entries), default=None)

    def proves_empty(self, window: Window) -> bool:
        """True when nothing on the branch can have been committed since the window began."""
        newest = self.newest
        return newest is not None and newest < window.start

    def in_window(self, window: Window) -> list[FeedEntry]:
        return sorted((e for e in self.entries if window.contains(e.updated)), key=lambda e: e.updated, reverse=True)

    def may_be_truncated(self, window: Window) -> bool:
        """A full feed whose oldest entry is still inside the window may be missing older commits of the day."""
        return len(self.entries) >= FEED_SIZE and min(e.updated for e in self.entries) >= window.start


class AtomClient:
    def __init__(self, settings: Settings, *, timeout: float = 15) -> None:
        self.base = settings.github_url
        self.timeout = timeout
        self.session = requests.Session()
        retry = Retry(total=3, connect=1, backoff_factor=0.25, status_forcelist=(500, 502, 503, 504))
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.session.headers["User-Agent"] = "daily-commit-digest"

    def url(self, spec: RepoSpec) -> str:
        path = f"commits/{quote(spec.branch, safe='/')}.atom" if spec.branch else "commits.atom"
        return f"{self.base}/{spec.owner}/{spec.name}/{path}"

    def fetch(self, spec: RepoSpec) -> Feed:
        url = self.url(spec)
        try:
            response = self.session.get(url, timeout=self.timeout)
        except requests.exceptions.RetryError as err:
            raise GitHubUnavailableError(f"{url} kept failing: {err}") from err
        except requests.RequestException as err:
            raise NetworkError(f"cannot reach {self.base}: {type(err).__name__}", hint="check GITHUB_URL") from err
        if response.status_code == 404:
            raise NotFoundError(f"no Atom feed for {spec} at {url}")
        if response.status_code >= 500:
            raise GitHubUnavailableError(f"{url} answered {response.status_code}")
        if response.status_code != 200:
            raise GitHubError(f"{url} answered {response.status_code}")
        return parse_feed(response.content)

    def close(self) -> None:
        self.session.close()


def parse_feed(content: bytes) -> Feed:
    parsed = feedparser.parse(content)
    if parsed.bozo and not parsed.entries:
        raise GitHubError(f"the Atom feed is not valid XML: {parsed.bozo_exception}")
    branch = None
    match = re.search(r"/commits/(.+?)(?:\.atom)?$", parsed.feed.get("link", ""))
    if match:
        branch = match[1]
    return Feed(branch=branch, entries=[_entry(e) for e in parsed.entries])


def _entry(entry: feedparser.FeedParserDict) -> FeedEntry:
    url = entry.get("link", "")
    sha = (entry.get("id") or url).rsplit("/", 1)[-1]
    title = " ".join(entry.get("title", "").split())
    message = title
    if entry.get("content"):
        message = html.unescape(_TAGS.sub("", entry.content[0].value)).strip() or title
    author = entry.get("author_detail") or {}
    login = None
    if author.get("href"):
        login = author["href"].rstrip("/").rsplit("/", 1)[-1] or None
    return FeedEntry(
        sha=sha,
        url=url,
        title=title,
        message=message,
        author_name=author.get("name") or entry.get("author") or (login or "unknown"),
        author_login=login,
        updated=_updated(entry),
    )


def _updated(entry: feedparser.FeedParserDict) -> datetime:
    text = entry.get("updated") or entry.get("published") or ""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        parsed = entry.get("updated_parsed") or entry.get("published_parsed")
        if not parsed:
            raise GitHubError(f"an Atom entry has no usable date: {text!r}") from None
        return datetime(*parsed[:6], tzinfo=UTC)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
