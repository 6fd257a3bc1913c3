"""Collect: every commit that landed on each watched branch during the window, with files, patches, stats and
pull request, newest first.

Per repository: the Atom feed first (free; when its newest entry predates the window the day is empty and no
API request is made), then the REST list of the window's commits, then each commit's details and pull request,
fetched concurrently and cached by SHA (a commit never changes), so a second run makes no detail request.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import TypeAdapter, ValidationError

from newsletter.collect.pacing import MAX_IN_FLIGHT, Pacer
from newsletter.collect.window import resolve_window
from newsletter.config import Settings
from newsletter.errors import GitHubUnavailableError, InputError, NewsletterError, NotFoundError, RateLimitedError
from newsletter.models import Commit, RepoCommits, RepoSpec, Window
from newsletter.progress import NoProgress, Progress
from newsletter.store.base import Cache

if TYPE_CHECKING:
    from newsletter.collect.atom import AtomClient, Feed
    from newsletter.collect.github import GitHubRest, Listed

__all__ = ["CollectOptions", "collect_repos", "dump_collected", "load_collected", "resolve_window"]

CACHE_KIND = "github-commit"


@dataclass(frozen=True)
class CollectOptions:
    exclude_merges: bool = False
    exclude_bots: bool = False
    bot_logins: frozenset[str] = frozenset()  # lower-case logins treated as bots besides "*[bot]"
    allow_degraded: bool = False  # fall back to the Atom feed when the API refuses (rate limit, outage)
    concurrency: int | None = None  # details fetched at once; None: settings.github_concurrency

    def is_bot(self, login: str | None, name: str) -> bool:
        login = (login or "").lower()
        return login.endswith("[bot]") or name.lower().endswith("[bot]") or login in self.bot_logins


def collect_repos(
    specs: list[RepoSpec],
    window: Window,
    *,
    settings: Settings,
    cache: Cache,
    options: CollectOptions | None = None,
    progress: Progress | None = None,
) -> list[RepoCommits]:
    """The commits of each repository in ``window``, in the order of ``specs``."""
    options = options or CollectOptions(bot_logins=settings.github_bot_logins)
    progress = progress or NoProgress()
    workers = max(1, min(options.concurrency or settings.github_concurrency, MAX_IN_FLIGHT))

    def waiting(seconds: float) -> None:
        progress.note(f"GitHub rate limit: waiting {seconds:.0f} s before continuing")

    def backing_off(seconds: float) -> None:
        progress.note(f"GitHub failed (server error or dropped connection): retrying in {seconds:.0f} s")

    # PyGithub, requests and feedparser are imported when commits are collected, not when the package is.
    from newsletter.collect.atom import AtomClient
    from newsletter.collect.github import GitHubRest

    pacer = Pacer(on_wait=waiting)
    rest = GitHubRest(settings, pacer=pacer, on_wait=waiting, on_backoff=backing_off)
    atom = AtomClient(settings)
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="collect") as pool:
            return [_collect_one(spec, window, rest, atom, pool, cache, options, progress, settings) for spec in specs]
    finally:
        rest.close()
        atom.close()


def _collect_one(
    spec: RepoSpec,
    window: Window,
    rest: GitHubRest,
    atom: AtomClient,
    pool: ThreadPoolExecutor,
    cache: Cache,
    options: CollectOptions,
    progress: Progress,
    settings: Settings,
) -> RepoCommits:
    feed = _feed(atom, spec)
    if feed is not None and feed.proves_empty(window):
        branch = spec.branch or feed.branch or "HEAD"
        return RepoCommits(repo=spec.full_name, branch=branch, window=window, commits=[])
    try:
        branch = spec.branch or rest.default_branch(spec)
        listed = [c for c in rest.list_commits(spec, branch, window) if _keep(c, options)]
        commits, gone = _details(spec, branch, listed, rest, pool, cache, progress, settings)
    except (RateLimitedError, GitHubUnavailableError) as err:
        if not options.allow_degraded:
            raise
        return _degraded(spec, window, atom, feed, options, settings.github_url, err)
    commits.sort(key=lambda c: c.committed_at, reverse=True)
    warnings = [
        f"commit {sha[:7]} was listed but is gone (404: force-pushed away while collecting?); left out" for sha in gone
    ]
    return RepoCommits(repo=spec.full_name, branch=branch, window=window, commits=commits, warnings=warnings)


def _feed(atom: AtomClient, spec: RepoSpec) -> Feed | None:
    """The feed when it can be had; any failure just means no pre-check (the API will tell what is wrong)."""
    try:
        return atom.fetch(spec)
    except NewsletterError:
        return None


def _keep(listed: Listed, options: CollectOptions) -> bool:
    if options.exclude_merges and listed.is_merge:
        return False
    return not (options.exclude_bots and options.is_bot(listed.login, listed.author_name))


def _details(
    spec: RepoSpec,
    branch: str,
    listed: list[Listed],
    rest: GitHubRest,
    pool: ThreadPoolExecutor,
    cache: Cache,
    progress: Progress,
    settings: Settings,
) -> tuple[list[Commit], list[str]]:
    """The listed commits' details, and the SHAs of those GitHub no longer has."""
    progress.start(f"{spec.full_name}@{branch}", len(listed))

    def one(item: Listed) -> Commit | None:
        key = f"{settings.github_api_url}|{spec.full_name.lower()}|{item.sha}"
        cached = cache.get(CACHE_KIND, key)
        if cached is not None:
            commit = Commit.model_validate(cached)
        else:
            try:
                commit = rest.commit(spec, item.sha, branch)
            except NotFoundError:
                # Listed a moment ago, gone now: a force-push rewrote the branch. The repository is there
                # (it was just listed), so this one commit is left out rather than the whole day lost.
                progress.advance()
                return None
            cache.put(CACHE_KIND, key, commit.model_dump(mode="json"))
        progress.advance()
        return commit

    futures = [pool.submit(one, item) for item in listed]
    done, pending = wait(futures, return_when=FIRST_EXCEPTION)
    for future in pending:
        future.cancel()
    for future in futures:
        if future in done and future.exception() is not None:
            raise future.exception()  # type: ignore[misc]
    found = [(item.sha, future.result()) for item, future in zip(listed, futures, strict=True)]
    return [commit for _, commit in found if commit is not None], [sha for sha, commit in found if commit is None]


def _degraded(
    spec: RepoSpec,
    window: Window,
    atom: AtomClient,
    feed: Feed | None,
    options: CollectOptions,
    web: str,
    reason: NewsletterError,
) -> RepoCommits:
    from newsletter.collect.atom import FEED_SIZE
    from newsletter.collect.github import pr_from_message

    if feed is None:
        try:
            feed = atom.fetch(spec)
        except NewsletterError as err:  # both failed: say why the API was left, then why the feed failed too
            hint = "try again later" + (", or set GITHUB_TOKEN" if isinstance(reason, RateLimitedError) else "")
            raise type(reason)(f"{reason.message}; the Atom fallback failed too: {err.message}", hint=hint) from err
    commits = [
        e.to_commit().model_copy(update={"pr": pr_from_message(e.message, web=web, repo=spec.full_name)})
        for e in feed.in_window(window)
    ]
    commits = [
        c
        for c in commits
        if not (options.exclude_merges and c.is_merge)
        and not (options.exclude_bots and options.is_bot(c.author.login, c.author.name))
    ]
    warnings = [
        f"{reason.message}; fell back to the Atom feed: titles only (no files, stats or pull requests), "
        f"and the feed holds at most the {FEED_SIZE} newest commits"
    ]
    if feed.may_be_truncated(window):
        warnings.append("the feed's oldest entry is inside the window: earlier commits of the day are missing")
    branch = spec.branch or feed.branch or "HEAD"
    return RepoCommits(
        repo=spec.full_name, branch=branch, window=window, commits=commits, degraded=True, warnings=warnings
    )


# --------------------------------------------------------------------------------------------- JSON files

_ADAPTER: TypeAdapter[list[RepoCommits]] = TypeAdapter(list[RepoCommits])


def dump_collected(repos: list[RepoCommits], path: Path) -> None:
    """Write the JSON documented in README ("newsletter collect"): a list with one object per repository."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(_ADAPTER.dump_json(repos, indent=2))
        tmp.replace(path)
    except OSError as err:
        with contextlib.suppress(OSError):  # its folder may not exist or not be a folder at all
            tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write {path}: {err.strerror or err}", hint="choose another --json path") from err


def load_collected(path: Path) -> list[RepoCommits]:
    try:
        return _ADAPTER.validate_json(path.read_bytes())
    except (OSError, ValidationError) as err:
        raise InputError(f"{path} is not a collect JSON file: {str(err).splitlines()[0]}") from err
