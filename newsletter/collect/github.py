"""GitHub REST through PyGithub: the branch's commits in a window, then each commit's details and pull request.

How it stays fast and polite (decided after reading PyGithub 2.10's Requester and GithubRetry):

* One ``Github`` client per worker thread. A PyGithub Requester keeps one connection object whose ``request()``
  stores the verb and URL for the following ``getresponse()``, so sharing one client between threads can mix
  up requests; per-thread clients also give each thread its own keep-alive connection.
* PyGithub's own spacing (``seconds_between_requests``, 0.25 s by default, per client) is switched off: with
  per-thread clients it would not bound the total anyway, and it makes 100 sequential commits cost 50 s of
  sleep. Instead one shared :class:`~newsletter.collect.pacing.Pacer` enforces GitHub's documented secondary
  limits (≤ 900 points per rolling minute, ≤ 100 in flight) around every request we make.
* Retries are urllib3's, through :class:`_Retry`, a ``GithubRetry``: 5xx and connection resets are retried with
  exponential backoff; 403/429 with ``Retry-After`` wait that long; a primary rate limit (remaining 0) waits
  for ``X-RateLimit-Reset``. Any wait longer than ``MAX_WAIT`` (60 s) is not slept but raised, and becomes one
  clear :class:`RateLimitedError` (or the Atom fallback when the caller allows it).
* PyGithub formats ``since``/``until`` as if they were UTC; we hand it UTC datetimes.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from github import Auth, Github, GithubException, GithubRetry
from github.Commit import Commit as GhCommit
from github.GithubException import (
    BadCredentialsException,
    RateLimitExceededExceedsMaxWait,
    RateLimitExceededException,
)
from github.PullRequest import PullRequest as GhPullRequest
from urllib3.response import BaseHTTPResponse

from newsletter import __version__
from newsletter.collect.pacing import Pacer
from newsletter.config import Settings
from newsletter.errors import (
    AuthError,
    GitHubError,
    GitHubUnavailableError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
)
from newsletter.models import Commit, FileChange, Person, PullRequest, RepoSpec, Window

MAX_WAIT = 60.0  # seconds we are willing to sleep for a rate limit before giving up with a clear error
PER_PAGE = 100
_PR_IN_TITLE = re.compile(r"\(#(\d+)\)\s*$")
_PR_MERGE = re.compile(r"^Merge pull request #(\d+)")


class _Retry(GithubRetry):
    """GithubRetry that never sleeps longer than ``max_wait``, retries 429 too, and says when it waits:
    ``on_wait`` for a rate limit, ``on_backoff`` after a server error or a dropped connection."""

    def __init__(
        self,
        *,
        max_wait: float = MAX_WAIT,
        on_wait: Callable[[float], None] | None = None,
        on_backoff: Callable[[float], None] | None = None,
        **kwargs: Any,
    ) -> None:
        self.max_wait = max_wait
        self.on_wait = on_wait
        self.on_backoff = on_backoff
        kwargs.setdefault("max_rate_limit_wait", max_wait)
        kwargs.setdefault("status_forcelist", [*range(500, 600), 429])
        super().__init__(**kwargs)

    def new(self, **kw: Any) -> _Retry:
        kw.update(max_wait=self.max_wait, on_wait=self.on_wait, on_backoff=self.on_backoff)
        return super().new(**kw)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        wait = self._wait_for(response)
        if wait > self.max_wait:
            assert response is not None
            raise RateLimitExceededExceedsMaxWait(response.status, None, dict(response.headers), wait=wait)
        limited = response is not None and response.status in (403, 429)
        say = self.on_wait if limited else self.on_backoff
        if wait >= 1 and say:
            say(wait)
        if wait > 0:
            time.sleep(wait)

    def _wait_for(self, response: BaseHTTPResponse | None) -> float:
        if response is not None:
            retry_after = self.get_retry_after(response)
            if retry_after is not None:
                return retry_after
            reset = response.headers.get("X-RateLimit-Reset", "")
            if response.status in (403, 429) and response.headers.get("X-RateLimit-Remaining") == "0" and reset:
                return max(float(reset) - time.time(), 0) + 1
        return self.get_backoff_time()


def make_retry(
    on_wait: Callable[[float], None] | None = None, on_backoff: Callable[[float], None] | None = None
) -> _Retry:
    # connect=2: a refused connection (network down, wrong URL) fails within a second, not after minutes.
    return _Retry(
        total=6,
        connect=2,
        backoff_factor=0.25,
        backoff_max=8,
        raise_on_status=False,
        on_wait=on_wait,
        on_backoff=on_backoff,
    )


@dataclass(frozen=True)
class Listed:
    """What the commit list says about a commit: enough to filter before paying for its details."""

    sha: str
    committed_at: datetime
    login: str | None
    author_name: str
    is_merge: bool


class GitHubRest:
    def __init__(
        self,
        settings: Settings,
        *,
        pacer: Pacer,
        on_wait: Callable[[float], None] | None = None,
        on_backoff: Callable[[float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.pacer = pacer
        self.on_wait = on_wait
        self.on_backoff = on_backoff
        self._local = threading.local()
        self._clients: list[Github] = []
        self._lock = threading.Lock()

    def _client(self) -> Github:
        client = getattr(self._local, "client", None)
        if client is None:
            token = self.settings.github_token
            client = Github(
                base_url=self.settings.github_api_url,
                auth=Auth.Token(token) if token else None,
                per_page=PER_PAGE,
                timeout=30,
                user_agent=f"daily-commit-digest/{__version__}",
                retry=make_retry(self.on_wait, self.on_backoff),
                seconds_between_requests=None,
                # Lazy: objects are fetched only when we ask (complete() / an attribute), so every request
                # we make is one we can pace and count.
                lazy=True,
            )
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients:
                client.close()
            self._clients.clear()

    # ------------------------------------------------------------------------------------------- requests
    def default_branch(self, spec: RepoSpec) -> str:
        with self._translate(f"repository {spec.full_name}"), self.pacer.request():
            branch = self._client().get_repo(spec.full_name).default_branch
        if not isinstance(branch, str) or not branch:
            raise self._not_github(f"repository {spec.full_name}", "no default_branch")
        return branch

    def list_commits(self, spec: RepoSpec, branch: str, window: Window) -> list[Listed]:
        """The branch's commits with a committer date in [start, end), in GitHub's order (newest first)."""
        listed = []
        with self._translate(f"branch {branch!r} of {spec.full_name}"):
            repo = self._client().get_repo(spec.full_name)
            # GitHub's until is inclusive and both bounds are whole seconds: filter again below for [start, end).
            since, until = window.start.astimezone(UTC), window.end.astimezone(UTC)
            pages = repo.get_commits(sha=branch, since=since, until=until)
            for item in self._paced(pages):
                # Properties only: raw_data would "complete" each listed commit with one request apiece.
                when = item.commit.committer.date.astimezone(UTC)
                if window.contains(when):
                    listed.append(
                        Listed(
                            sha=item.sha,
                            committed_at=when,
                            login=item.author.login if item.author else None,
                            author_name=item.commit.author.name,
                            is_merge=len(item.parents) > 1,
                        )
                    )
        return listed

    def commit(self, spec: RepoSpec, sha: str, branch: str) -> Commit:
        """One commit's details (files, patches, stats) and its pull request: two requests."""
        repo = self._client().get_repo(spec.full_name)
        with self._translate(f"commit {sha[:7]} of {spec.full_name}"):
            with self.pacer.request():
                gh = repo.get_commit(sha).complete()
                files = [
                    FileChange(
                        path=f.filename,
                        status=f.status,
                        additions=f.additions,
                        deletions=f.deletions,
                        patch=f.patch,
                        previous_path=f.previous_filename,
                    )
                    for f in gh.files
                ]
            with self.pacer.request():
                pulls = list(gh.get_pulls())
        return _to_commit(gh, files, _choose_pr(pulls, sha), web=self.settings.github_url, repo=spec.full_name)

    # ------------------------------------------------------------------------------------------- plumbing
    def _paced(self, pages: Any) -> Iterator[GhCommit]:
        """Iterate a PaginatedList, taking one pacer point before each page is fetched."""
        iterator = iter(pages)
        index = 0
        while True:
            if index % PER_PAGE == 0:
                with self.pacer.request():
                    item = next(iterator, None)
            else:
                item = next(iterator, None)
            if item is None:
                return
            yield item
            index += 1

    @contextmanager
    def _translate(self, what: str) -> Iterator[None]:
        """PyGithub and requests errors → the project's, with the thing that failed named."""
        api = self.settings.github_api_url
        try:
            yield
        except RateLimitExceededExceedsMaxWait as err:
            raise RateLimitedError(
                f"GitHub's rate limit is exhausted and resets in {err.wait or 0:.0f} s ({api})",
                reset_in=err.wait,
                hint="set GITHUB_TOKEN for a higher limit, try again later, or pass --allow-degraded",
            ) from err
        except BadCredentialsException as err:
            raise AuthError(
                f"GitHub rejected the token (401 Bad credentials) at {api}", hint="check GITHUB_TOKEN"
            ) from err
        except RateLimitExceededException as err:
            raise RateLimitedError(f"GitHub's rate limit stopped the requests for {what}: {_message(err)}") from err
        except GithubException as err:
            if err.status == 401:
                raise AuthError(f"GitHub refused the credentials (401) at {api}", hint="check GITHUB_TOKEN") from err
            if err.status in (404, 422):
                raise NotFoundError(f"{what} not found on {api}", hint="check OWNER/REPO[@BRANCH]") from err
            if err.status == 429:
                raise RateLimitedError(f"GitHub throttled the requests for {what} (429)") from err
            if err.status >= 500:
                raise GitHubUnavailableError(
                    f"GitHub kept failing ({err.status}) for {what} after retries", hint="try again later"
                ) from err
            raise GitHubError(f"GitHub answered {err.status} for {what}: {_message(err)}") from err
        except requests.RequestException as err:
            raise NetworkError(
                f"cannot reach GitHub at {api}: {_cause(err)}", hint="check the network and GITHUB_API_URL"
            ) from err
        except json.JSONDecodeError as err:
            raise self._not_github(what, f"invalid JSON ({err.msg})") from err
        except (AttributeError, TypeError, KeyError) as err:
            # PyGithub builds its objects from whatever JSON came back; a page of another shape (a proxy's
            # answer, a server that is not GitHub) surfaces as a missing attribute while reading them.
            raise self._not_github(what, f"unexpected data ({type(err).__name__}: {str(err)[:80]})") from err

    def _not_github(self, what: str, got: str) -> GitHubError:
        return GitHubError(
            f"{self.settings.github_api_url} did not answer like the GitHub API for {what}: {got}",
            hint="check GITHUB_API_URL (GitHub Enterprise: https://HOST/api/v3)",
        )


def _message(err: GithubException) -> str:
    data = err.data
    return str(data.get("message")) if isinstance(data, dict) and data.get("message") else str(err.status)


def _cause(err: BaseException) -> str:
    # requests wraps urllib3 wraps socket errors; the innermost one is the one a person understands.
    while err.__cause__ or err.__context__:
        err = err.__cause__ or err.__context__  # type: ignore[assignment]
    text = str(err)
    return text.split("] ", 1)[-1] if "] " in text else (text or type(err).__name__)


def _choose_pr(pulls: list[GhPullRequest], sha: str) -> PullRequest | None:
    """The pull request that landed this commit: the one whose merge commit it is, else the first listed."""
    if not pulls:
        return None
    chosen = next((p for p in pulls if p.merge_commit_sha == sha), pulls[0])
    return PullRequest(
        number=chosen.number,
        title=chosen.title,
        body=chosen.body,
        labels=[label.name for label in chosen.labels],
        url=chosen.html_url,
    )


def pr_from_message(message: str, *, web: str, repo: str) -> PullRequest | None:
    """``Title (#123)`` (squash merges) or ``Merge pull request #123 from …`` (merge commits; GitHub puts the
    pull request's title on the message's next paragraph)."""
    lines = (message or "").splitlines()
    title = lines[0] if lines else ""
    if match := _PR_IN_TITLE.search(title):
        pr_title: str | None = title[: match.start()].rstrip()
    elif match := _PR_MERGE.match(title):
        pr_title = next((line.strip() for line in lines[1:] if line.strip()), None)
    else:
        return None
    number = int(match[1])
    return PullRequest(number=number, title=pr_title or None, url=f"{web}/{repo}/pull/{number}")


def _person(name: str | None, email: str | None, login: str | None) -> Person:
    return Person(name=name or login or "unknown", email=email or None, login=login)


def _to_commit(gh: GhCommit, files: list[FileChange], pr: PullRequest | None, *, web: str, repo: str) -> Commit:
    git = gh.commit
    message = git.message or ""
    author = _person(git.author.name, git.author.email, gh.author.login if gh.author else None)
    committer = _person(git.committer.name, git.committer.email, gh.committer.login if gh.committer else None)
    parents = [p.sha for p in gh.parents]
    return Commit(
        sha=gh.sha,
        url=gh.html_url or f"{web}/{repo}/commit/{gh.sha}",
        title=message.splitlines()[0] if message else "",
        message=message,
        author=author,
        committer=committer,
        committed_at=git.committer.date.astimezone(UTC),
        authored_at=git.author.date.astimezone(UTC),
        pr=pr or pr_from_message(message, web=web, repo=repo),
        additions=gh.stats.additions if gh.stats else sum(f.additions for f in files),
        deletions=gh.stats.deletions if gh.stats else sum(f.deletions for f in files),
        files=files,
        parents=parents,
        is_merge=len(parents) > 1,
    )
