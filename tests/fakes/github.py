"""FakeGitHub: a real HTTP server on 127.0.0.1 that answers like api.github.com and github.com's Atom feeds.

It serves one or more "case" folders in the layout of ``tests/data/github/<case>/`` (and of the real days
exported under /work/shared/fixtures/github/)::

    <case>/api/repos/{owner}/{repo}.json                       GET /repos/{owner}/{repo}
    <case>/api/repos/{owner}/{repo}/commits.json               GET /repos/{owner}/{repo}/commits  (the whole
                                                               branch history; filtered and paginated here)
    <case>/api/repos/{owner}/{repo}/commits/{sha}.json         GET /repos/{owner}/{repo}/commits/{sha}
    <case>/api/repos/{owner}/{repo}/commits/{sha}/pulls.json   GET /repos/{owner}/{repo}/commits/{sha}/pulls
    <case>/atom/{owner}/{repo}/commits/{branch}.atom           GET /{owner}/{repo}/commits/{branch}.atom
                                                               (and /{owner}/{repo}/commits.atom: default branch)

so that PyGithub and feedparser run unmodified against it. Like GitHub it filters the commit list by
committer date (``since``/``until`` both inclusive), paginates with real ``Link`` headers (``per_page`` ≤ 100),
sends ``X-RateLimit-*`` headers and an ``ETag`` (304 on a matching ``If-None-Match``, not counted), answers
``/rate_limit``, 404 for unknown repositories, branches and SHAs, and 401 for a wrong token (when ``token`` is
set; anonymous requests are always allowed). URLs inside the served JSON and Atom are rewritten from
api.github.com / github.com to the fake's own base, as GitHub Enterprise would serve them.

Use it as a context manager::

    with FakeGitHub(DATA / "widgets-2026-03-08") as gh:
        env = {"GITHUB_API_URL": gh.api_url, "GITHUB_URL": gh.web_url}
        ...
        assert gh.count("commit") == 7           # detail requests seen
        gh.clear_log()

Knobs: ``prefix="/api/v3"`` (GitHub Enterprise layout: the API under the prefix, the web at the root),
``latency`` (seconds added to every response), ``fail_every=N`` (every Nth API request fails: a 502, or a
connection reset with ``fail_mode="reset"``), ``throttle(...)`` (next requests get a secondary rate limit
403/429 with ``Retry-After``), ``exhaust_rate_limit(reset_in)`` (primary limit: 403 until the reset time),
``token`` (the one token accepted), ``forget(sha)`` (a listed commit's details answer 404, as after a
force-push), ``misbehave`` ("html": a web page with status 200, "invalid_json", "wrong_shape": JSON that is
not the resource asked for; what a wrong ``GITHUB_API_URL`` or a broken proxy answers). ``requests`` is the
request log (:class:`Logged`), ``max_in_flight`` the highest number of requests served at once.

``synthetic_day(...)`` writes a generated case folder (any number of commits) for pagination tests and
benchmarks.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

REAL_API = "https://api.github.com"
REAL_WEB = "https://github.com"
PRIMARY_LIMIT_MESSAGE = (
    "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher "
    "rate limit. Check out the documentation for more details.)"
)
SECONDARY_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach "
    "out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000."
)
_DOCS = "https://docs.github.com/rest"


@dataclass(frozen=True)
class Logged:
    """One request as the fake saw it. ``path`` is without the API prefix; ``kind`` classifies it."""

    method: str
    path: str
    query: dict[str, str]
    kind: str  # repo | commits | commit | pulls | rate_limit | atom | other
    status: int
    headers: dict[str, str] = field(default_factory=dict, compare=False)
    at: float = field(default_factory=time.monotonic, compare=False)  # when it was answered


@dataclass
class _Repo:
    root: Path  # <case>/api/repos/{owner}/{repo} (without .json)
    atom: Path  # <case>/atom/{owner}/{repo}/commits
    info: dict[str, Any]


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class FakeGitHub:
    def __init__(
        self,
        *cases: Path | str,
        prefix: str = "",
        latency: float = 0.0,
        fail_every: int = 0,
        fail_mode: str = "5xx",
        token: str | None = None,
        rate_limit: int = 5000,
        misbehave: str = "",
    ) -> None:
        if not cases:
            raise ValueError("FakeGitHub needs at least one case folder")
        if fail_mode not in {"5xx", "reset"}:
            raise ValueError("fail_mode is '5xx' or 'reset'")
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.latency = latency
        self.fail_every = fail_every
        self.fail_mode = fail_mode
        self.token = token
        self.rate_limit = rate_limit
        if misbehave not in {"", "html", "invalid_json", "wrong_shape"}:
            raise ValueError("misbehave is '', 'html', 'invalid_json' or 'wrong_shape'")
        self.misbehave = misbehave
        self.gone: set[str] = set()
        self._repos: dict[str, _Repo] = {}
        for case in cases:
            self._index(Path(case))
        self._lock = threading.Lock()
        self._log: list[Logged] = []
        self._api_count = 0
        self._remaining = rate_limit
        self._reset_at = time.time() + 3600
        self._throttles: list[tuple[int, float]] = []
        self._in_flight = 0
        self.max_in_flight = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------- lifecycle
    def start(self) -> FakeGitHub:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-github", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def web_url(self) -> str:
        assert self._server is not None, "start the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.web_url + self.prefix

    def env(self) -> dict[str, str]:
        """The environment variables that point the project at this fake."""
        return {"GITHUB_API_URL": self.api_url, "GITHUB_URL": self.web_url}

    # ------------------------------------------------------------------------------------------- the log
    @property
    def requests(self) -> list[Logged]:
        with self._lock:
            return list(self._log)

    def count(self, *kinds: str) -> int:
        """How many requests of these kinds were seen (all API requests when no kind is given)."""
        wanted = set(kinds) or {"repo", "commits", "commit", "pulls", "rate_limit", "other"}
        return sum(1 for r in self.requests if r.kind in wanted)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()
            self.max_in_flight = 0

    # ------------------------------------------------------------------------------------------- knobs
    def exhaust_rate_limit(self, reset_in: float) -> None:
        """Primary rate limit: every API request gets 403 "API rate limit exceeded" until ``reset_in`` s from now."""
        with self._lock:
            self._remaining = 0
            self._reset_at = time.time() + reset_in

    def forget(self, sha: str) -> None:
        """The commit stays in the branch's list (as GitHub served it a moment ago) but its details are 404."""
        with self._lock:
            self.gone.add(sha)

    def throttle(self, times: int = 1, *, status: int = 403, retry_after: float = 1) -> None:
        """Secondary rate limit: the next ``times`` API requests get ``status`` with a ``Retry-After`` header."""
        with self._lock:
            self._throttles.extend([(status, retry_after)] * times)

    # ------------------------------------------------------------------------------------------- data
    def _index(self, case: Path) -> None:
        repos = case / "api" / "repos"
        if not repos.is_dir():
            raise FileNotFoundError(f"{case} has no api/repos folder")
        for info_file in repos.glob("*/*.json"):
            info = json.loads(info_file.read_text(encoding="utf-8"))
            owner, name = info_file.parent.name, info_file.stem
            self._repos[f"{owner}/{name}".lower()] = _Repo(
                root=info_file.with_suffix(""), atom=case / "atom" / owner / name / "commits", info=info
            )

    def _rewrite(self, text: str) -> str:
        return text.replace(REAL_API, self.api_url).replace(REAL_WEB, self.web_url)

    def _json_file(self, path: Path) -> Any:
        return json.loads(self._rewrite(path.read_text(encoding="utf-8")))

    def _history(self, repo: _Repo) -> list[dict[str, Any]]:
        return self._json_file(repo.root / "commits.json")


class _Handler(BaseHTTPRequestHandler):
    owner: FakeGitHub
    protocol_version = "HTTP/1.1"
    server_version = "FakeGitHub/1.0"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle + delayed ACK add ~40 ms per response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # the request log replaces stderr noise
        pass

    def do_GET(self) -> None:
        fake = self.owner
        with fake._lock:
            fake._in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake._in_flight)
        try:
            if fake.latency:
                time.sleep(fake.latency)
            self._serve()
        finally:
            with fake._lock:
                fake._in_flight -= 1

    # ------------------------------------------------------------------------------------------- routing
    def _serve(self) -> None:
        fake = self.owner
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = dict(parse_qsl(split.query))
        is_api = bool(fake.prefix) and (path == fake.prefix or path.startswith(fake.prefix + "/"))
        if is_api:
            path = path[len(fake.prefix) :] or "/"
        elif not fake.prefix:
            is_api = path == "/rate_limit" or path.startswith("/repos/")
        kind = _kind(path) if is_api else ("atom" if path.endswith(".atom") else "other")
        if not is_api:
            status = self._web(path)
            self._record(path, query, kind, status)
            return

        with fake._lock:
            fake._api_count += 1
            nth = fake._api_count
            throttle = fake._throttles.pop(0) if fake._throttles else None
            now = time.time()
            if now >= fake._reset_at:
                fake._remaining, fake._reset_at = fake.rate_limit, now + 3600
        if fake.fail_every and nth % fake.fail_every == 0:
            self._record(path, query, kind, 0 if fake.fail_mode == "reset" else 502)
            if fake.fail_mode == "reset":
                self._reset_connection()
            else:
                self._send_json(502, {"message": "Server Error"})
            return
        if not self._authorised():
            self._record(path, query, kind, 401)
            self._send_json(401, {"message": "Bad credentials", "documentation_url": _DOCS})
            return
        if throttle is not None:
            status, retry_after = throttle
            self._record(path, query, kind, status)
            body = {"message": SECONDARY_LIMIT_MESSAGE, "documentation_url": _DOCS}
            self._send_json(status, body, {"Retry-After": f"{retry_after:g}"})
            return
        if kind != "rate_limit" and fake._remaining <= 0:
            self._record(path, query, kind, 403)
            self._send_json(403, {"message": PRIMARY_LIMIT_MESSAGE, "documentation_url": _DOCS})
            return

        if fake.misbehave and kind != "rate_limit":
            self._record(path, query, kind, 200)
            if fake.misbehave == "html":
                self._send(200, b"<html><body>Sign in to the proxy</body></html>", {}, content_type="text/html")
            elif fake.misbehave == "invalid_json":
                self._send(200, b'{"default_branch": "main", ', {})
            else:
                self._send(200, json.dumps({"status": "ok"} if kind == "repo" else [1, 2, 3]).encode(), {})
            return
        status, body, headers = self._api(path, query)
        payload = json.dumps(body).encode()
        etag = '"' + hashlib.sha1(payload).hexdigest() + '"'
        if status == 200 and self.headers.get("If-None-Match") == etag:
            self._record(path, query, kind, 304)
            self._send(304, b"", {"ETag": etag, **self._rate_headers()}, content_type=None)
            return
        if kind != "rate_limit":
            with fake._lock:
                fake._remaining = max(fake._remaining - 1, 0)
        self._record(path, query, kind, status)
        self._send(status, payload, {"ETag": etag, **headers, **self._rate_headers()})

    def _api(self, path: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        fake = self.owner
        if path == "/rate_limit":
            core = self._rate_body()
            return 200, {"resources": {"core": core}, "rate": core}, {}
        match = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/commits(?:/([^/]+)(/pulls)?)?)?/?", path)
        if not match:
            return 404, {"message": "Not Found", "documentation_url": _DOCS}, {}
        owner, name, commits, ref, pulls = match.groups()
        repo = fake._repos.get(f"{owner}/{name}".lower())
        if repo is None:
            return 404, {"message": "Not Found", "documentation_url": _DOCS}, {}
        if not commits:
            return 200, fake._json_file(repo.root.with_suffix(".json")), {}
        if ref is None:
            return self._list(repo, query)
        if ref == repo.info.get("default_branch"):
            ref = fake._history(repo)[0]["sha"]
        if pulls:
            file = repo.root / "commits" / ref / "pulls.json"
            # A commit the export has no PR file for is simply in no pull request.
            return 200, (fake._json_file(file) if file.is_file() else []), {}
        file = repo.root / "commits" / f"{ref}.json"
        if not file.is_file() or ref in fake.gone:
            return (
                422 if not re.fullmatch(r"[0-9a-f]{40}", ref) else 404,
                {
                    "message": f"No commit found for SHA: {ref}",
                    "documentation_url": _DOCS,
                },
                {},
            )
        return 200, fake._json_file(file), {}

    def _list(self, repo: _Repo, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        history = self.owner._history(repo)
        ref = query.get("sha")
        if ref and ref != repo.info.get("default_branch"):
            starts = [i for i, c in enumerate(history) if c["sha"] == ref]
            if not starts:
                return 404, {"message": f"No commit found for SHA: {ref}", "documentation_url": _DOCS}, {}
            history = history[starts[0] :]
        try:
            since = _parse_time(query["since"]) if "since" in query else None
            until = _parse_time(query["until"]) if "until" in query else None
            per_page = min(int(query.get("per_page", 30)), 100)
            page = max(int(query.get("page", 1)), 1)
        except ValueError:
            return 422, {"message": "Validation Failed", "documentation_url": _DOCS}, {}
        selected = [
            c
            for c in history
            if (since is None or _parse_time(c["commit"]["committer"]["date"]) >= since)
            and (until is None or _parse_time(c["commit"]["committer"]["date"]) <= until)
        ]
        pages = max(math.ceil(len(selected) / per_page), 1)
        body = selected[(page - 1) * per_page : page * per_page]
        links = []

        def link(n: int, rel: str) -> None:
            params = {**query, "page": str(n)}
            links.append(
                f"<{self.owner.api_url}{urlsplit(self.path).path.removeprefix(self.owner.prefix)}"
                f'?{urlencode(params)}>; rel="{rel}"'
            )

        if page > 1:
            link(page - 1, "prev")
        if page < pages:
            link(page + 1, "next")
            link(pages, "last")
        if page > 1:
            link(1, "first")
        return 200, body, ({"Link": ", ".join(links)} if links else {})

    def _web(self, path: str) -> int:
        fake = self.owner
        match = re.fullmatch(r"/([^/]+)/([^/]+)/commits(?:/(.+))?\.atom", path)
        repo = fake._repos.get(f"{match[1]}/{match[2]}".lower()) if match else None
        if match is None or repo is None:
            self._send(404, b"Not Found", {}, content_type="text/plain")
            return 404
        branch = match[3] or repo.info.get("default_branch", "main")
        feed = repo.atom / f"{branch}.atom"
        if not feed.is_file():
            self._send(404, b"Not Found", {}, content_type="text/plain")
            return 404
        self._send(200, fake._rewrite(feed.read_text(encoding="utf-8")).encode(), {}, "application/atom+xml")
        return 200

    # ------------------------------------------------------------------------------------------- helpers
    def _authorised(self) -> bool:
        given = self.headers.get("Authorization")
        if not given or self.owner.token is None:
            return True
        return given.split(" ", 1)[-1] == self.owner.token

    def _rate_body(self) -> dict[str, int]:
        fake = self.owner
        with fake._lock:
            return {
                "limit": fake.rate_limit,
                "remaining": fake._remaining,
                "reset": math.ceil(fake._reset_at),
                "used": fake.rate_limit - fake._remaining,
            }

    def _rate_headers(self) -> dict[str, str]:
        body = self._rate_body()
        return {
            "X-RateLimit-Limit": str(body["limit"]),
            "X-RateLimit-Remaining": str(body["remaining"]),
            "X-RateLimit-Reset": str(body["reset"]),
            "X-RateLimit-Used": str(body["used"]),
            "X-RateLimit-Resource": "core",
        }

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), {**(headers or {}), **self._rate_headers()})

    def _send(
        self, status: int, payload: bytes, headers: dict[str, str], content_type: str | None = "application/json"
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def _reset_connection(self) -> None:
        # SO_LINGER with a zero timeout makes close() send a TCP RST: the client sees "connection reset".
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _record(self, path: str, query: dict[str, str], kind: str, status: int) -> None:
        entry = Logged("GET", path, query, kind, status, dict(self.headers.items()))
        with self.owner._lock:
            self.owner._log.append(entry)


def _kind(path: str) -> str:
    if path == "/rate_limit":
        return "rate_limit"
    if re.fullmatch(r"/repos/[^/]+/[^/]+/?", path):
        return "repo"
    if re.fullmatch(r"/repos/[^/]+/[^/]+/commits/?", path):
        return "commits"
    if re.fullmatch(r"/repos/[^/]+/[^/]+/commits/[^/]+/pulls/?", path):
        return "pulls"
    if re.fullmatch(r"/repos/[^/]+/[^/]+/commits/[^/]+/?", path):
        return "commit"
    return "other"


# --------------------------------------------------------------------------------------------- generated days


def synthetic_day(
    folder: Path,
    *,
    repo: str = "synth/big",
    day: date = date(2026, 5, 20),
    tz: str = "UTC",
    count: int = 100,
    outside: int = 5,
    files_per_commit: int = 3,
) -> Path:
    """Write a case folder with ``count`` commits spread over ``day`` in ``tz`` (plus ``outside`` commits on the
    day before), every third one with a pull request from the commit-pulls endpoint. Returns the folder."""
    owner, name = repo.split("/")
    zone = ZoneInfo(tz)
    start = datetime.combine(day, datetime.min.time(), zone)
    length = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone) - start
    base = folder / "api" / "repos" / owner
    commits_dir = base / name / "commits"
    commits_dir.mkdir(parents=True, exist_ok=True)
    (base / f"{name}.json").write_text(
        json.dumps({"name": name, "full_name": repo, "default_branch": "main", "url": f"{REAL_API}/repos/{repo}"})
    )
    history, expected, entries = [], [], []
    moments = [start + length * (i + 0.5) / count for i in range(count)]
    moments += [start - timedelta(hours=i + 1) for i in range(outside)]
    for i, moment in enumerate(sorted(moments, reverse=True)):
        sha = hashlib.sha1(f"{repo}:{i}".encode()).hexdigest()
        when = moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")
        person = {"name": f"Dev {i % 7}", "email": f"dev{i % 7}@example.com", "date": when}
        login = {"login": f"dev{i % 7}", "id": 100 + i % 7, "type": "User"}
        title = f"feat(part{i % 5}): change number {i}"
        entry = {
            "sha": sha,
            "commit": {"author": person, "committer": person, "message": f"{title}\n\nBody of change {i}."},
            "url": f"{REAL_API}/repos/{repo}/commits/{sha}",
            "html_url": f"{REAL_WEB}/{repo}/commit/{sha}",
            "author": login,
            "committer": login,
            "parents": [{"sha": hashlib.sha1(f"{repo}:{i + 1}".encode()).hexdigest()}],
        }
        history.append(entry)
        if moment >= start:
            expected.append(sha)
            files = [
                {
                    "filename": f"src/part{i % 5}/module_{j}.py",
                    "status": "modified",
                    "additions": 3,
                    "deletions": 1,
                    "changes": 4,
                    "patch": f"@@ -1,2 +1,4 @@\n-old_{j} = {i}\n+new_{j} = {i}\n+extra_{j} = True\n+more_{j} = None",
                }
                for j in range(files_per_commit)
            ]
            detail = {**entry, "stats": {"additions": 3 * files_per_commit, "deletions": files_per_commit}}
            detail["files"] = files
            (commits_dir / f"{sha}.json").write_text(json.dumps(detail))
            pulls = []
            if i % 3 == 0:
                pulls = [
                    {
                        "number": 1000 + i,
                        "title": title,
                        "body": "",
                        "labels": [],
                        "html_url": f"{REAL_WEB}/{repo}/pull/{1000 + i}",
                        "merge_commit_sha": sha,
                    }
                ]
            (commits_dir / sha).mkdir(exist_ok=True)
            (commits_dir / sha / "pulls.json").write_text(json.dumps(pulls))
        entries.append(
            f"<entry><id>tag:github.com,2008:Grit::Commit/{sha}</id>"
            f'<link type="text/html" rel="alternate" href="{REAL_WEB}/{repo}/commit/{sha}"/>'
            f"<title>{escape(title)}</title><updated>{moment.isoformat()}</updated>"
            f"<author><name>dev{i % 7}</name><uri>{REAL_WEB}/dev{i % 7}</uri></author></entry>"
        )
    (base / name / "commits.json").write_text(json.dumps(history))
    atom = folder / "atom" / owner / name / "commits"
    atom.mkdir(parents=True, exist_ok=True)
    (atom / "main.atom").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Recent Commits to {name}:main</title>" + "".join(entries[:20]) + "</feed>\n"
    )
    case = {"repo": repo, "branch": "main", "date": day.isoformat(), "tz": tz, "expected_shas": expected}
    (folder / "case.json").write_text(json.dumps(case, indent=1))
    return folder


__all__ = ["FakeGitHub", "Logged", "synthetic_day"]
