"""FakeOpenAI: an OpenAI-compatible chat completions server on 127.0.0.1 (ephemeral port), so that the real
``openai`` SDK runs unmodified against it.

It answers ``POST /v1/chat/completions`` with ``response_format`` json_schema or json_object (a plausible,
schema-valid analysis derived from the prompt: the commit title is read from its "Title:" / "标题：" line),
or with plain text when no response_format is asked (the day overview). A prompt with a "Change:" / "变更："
line is one thread's: the answer is ``{"thread": <analysis>, "commits": [<a line per "Commit:" shown>]}``.
Injectable: latency, 429 (with retry-after) or 500 on every Nth request, output cut off (finish_reason
"length", JSON cut in half) on every Mth, a mode that rejects json_schema with 400, and ``misbehave`` (on
every ``misbehave_every``-th request) for what real servers and proxies also send: "refusal"
(``message.refusal``), "content_filter" (``finish_reason``), "empty_choices", "html" (a web page with status
200), "invalid_json", "no_choices" (JSON that is not a chat completion), "insufficient_quota" (OpenAI's 429
for an account without credit).

``invent`` makes the answers say what the prompt does not, for the checks of newsletter/analyze/checks/:
"figure" (a bullet "About 2.5x faster than before." and a headline sentence with "30%"), "identifier" (a
bullet naming `FastPathScheduler`, which no commit has), "wrong_language" (every answer in the other
language, even after the reminder), "wrong_language_once" (the other language until the request carries
the language reminder), "overclaim" (every commit a high-importance feature, never breaking). Otherwise an
analysis says nothing but what the prompt states, in the prompt's language, and ``breaking_change`` is
always false (whatever the diff removes). Every request is logged.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_TITLE = re.compile(r"^(?:Title: |标题：)(.+)$", re.M)
_SHA = re.compile(r"^(?:Commit: |提交：)([0-9a-f]{7,40})$", re.M)
_CHANGE = re.compile(r"^(?:Change: |变更：)(.+)$", re.M)  # a thread's prompt: one change of several commits
_TYPES = {
    "feat": "feature",
    "fix": "fix",
    "refactor": "refactor",
    "perf": "perf",
    "docs": "docs",
    "test": "test",
    "build": "build/ci",
    "ci": "build/ci",
    "chore": "chore",
    "style": "chore",
    "revert": "revert",
    "security": "security",
}


@dataclass
class Request:
    n: int  # 1-based, in arrival order
    body: dict[str, Any]
    status: int
    response_format: str | None  # "json_schema" | "json_object" | None
    kind: str  # "analysis" (one commit) | "thread" (one change of several commits) | "overview"
    title: str | None
    # time.monotonic() when the request arrived and when its answer was ready (the server's view of the schedule)
    received: float = 0.0
    answered: float = 0.0

    @property
    def user(self) -> str:
        """The prompt's user message as the server received it."""
        return next((m["content"] for m in self.body.get("messages", []) if m.get("role") == "user"), "")


@dataclass
class FakeOpenAI:
    latency: float = 0.0
    fail_every: int = 0  # every Nth request fails with fail_status
    fail_status: int = 429
    retry_after: float = 0.01
    truncate_every: int = 0  # every Mth request is cut off (finish_reason "length")
    reject_json_schema: bool = False
    invalid_every: int = 0  # every Kth request answers text that is not JSON
    misbehave: str = ""  # see the module's docstring
    misbehave_every: int = 1
    invent: str = ""  # see the module's docstring
    model: str = "fake-model"
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._in_flight = 0
        self.max_in_flight = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                status, headers, payload = fake._handle(self.path, body, self.headers.get("authorization"))
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", headers.pop("content-type", "application/json"))
                self.send_header("content-length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -------------------------------------------------------------------------------------------- server
    @property
    def url(self) -> str:
        """The base URL for OPENAI_BASE_URL (ends in /v1)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def completions(self, kind: str | None = None, status: int | None = 200) -> list[Request]:
        return [r for r in self.requests if (kind is None or r.kind == kind) and (status is None or r.status == status)]

    # -------------------------------------------------------------------------------------------- answers
    def _handle(self, path: str, body: dict[str, Any], auth: str | None) -> tuple[int, dict[str, str], Any]:
        received = time.monotonic()
        with self._lock:
            self._count += 1
            n = self._count
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            return self._answer(n, path, body, auth, received)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(
        self, n: int, path: str, body: dict[str, Any], auth: str | None, received: float
    ) -> tuple[int, dict[str, str], Any]:
        fmt = (body.get("response_format") or {}).get("type")
        user = next((m["content"] for m in body.get("messages", []) if m.get("role") == "user"), "")
        system = next((m["content"] for m in body.get("messages", []) if m.get("role") == "system"), "")
        title_match = _TITLE.search(user)
        change = _CHANGE.search(user)
        kind = ("thread" if change else "analysis") if fmt else "overview"

        def log(status: int) -> None:
            with self._lock:
                title = title_match[1] if title_match else None
                self.requests.append(Request(n, body, status, fmt, kind, title, received, time.monotonic()))

        if not path.endswith("/chat/completions"):
            log(404)
            return 404, {}, _error("not found", "invalid_request_error")
        if auth != "Bearer test-key":
            log(401)
            return 401, {}, _error("Incorrect API key provided", "invalid_request_error")
        if self.fail_every and n % self.fail_every == 0:
            log(self.fail_status)
            headers = {"retry-after": str(self.retry_after)} if self.fail_status == 429 else {}
            return self.fail_status, headers, _error("Rate limit reached" if self.fail_status == 429 else "boom", "x")
        if fmt == "json_schema" and self.reject_json_schema:
            log(400)
            return 400, {}, _error("response_format json_schema is not supported by this server", "invalid_request")
        if fmt == "json_object" and "json" not in (system + user).lower():
            log(400)  # OpenAI's own rule: json_object needs the word JSON in the messages
            return 400, {}, _error("'messages' must contain the word 'json'", "invalid_request_error")

        odd = self.misbehave if self.misbehave and n % self.misbehave_every == 0 else ""
        if odd in ("html", "invalid_json", "no_choices", "insufficient_quota"):
            status, headers, raw = _misbehave(odd)
            log(status)
            return status, headers, raw
        chinese = "标题：" in user or "仓库：" in user
        reminded = sum(1 for m in body.get("messages", []) if m.get("role") == "user") > 1
        if self.invent == "wrong_language" or (self.invent == "wrong_language_once" and not reminded):
            chinese = not chinese
        if fmt and change:
            answer = _invent(_analysis(change[1], user, chinese), self.invent, chinese)
            lines = [
                _line(sha, title, chinese) for sha, title in zip(_SHA.findall(user), _TITLE.findall(user), strict=False)
            ]
            content = json.dumps({"thread": answer, "commits": lines}, ensure_ascii=False)
        elif fmt:
            answer = _analysis(title_match[1] if title_match else "", user, chinese)
            content = json.dumps(_invent(answer, self.invent, chinese), ensure_ascii=False)
        else:
            content = _overview(user, chinese)
        finish = "stop"
        if self.truncate_every and n % self.truncate_every == 0:
            content, finish = content[: len(content) // 2], "length"
        elif self.invalid_every and n % self.invalid_every == 0:
            content = "Sure! Here is the analysis you asked for."
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
        if odd == "refusal":
            message = {"role": "assistant", "content": None, "refusal": "I'm sorry, I can't help with that."}
        elif odd == "content_filter":
            content, finish = "", "content_filter"
            message["content"] = content
        log(200)
        prompt_tokens = (len(system) + len(user)) // 4
        completion_tokens = max(1, len(content) // 4)
        return (
            200,
            {"x-request-id": f"req_{n}"},
            {
                "id": f"chatcmpl-{n}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", self.model),
                "system_fingerprint": "fp_fake",
                "choices": []
                if odd == "empty_choices"
                else [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )


def _error(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _misbehave(kind: str) -> tuple[int, dict[str, str], Any]:
    if kind == "html":
        return 200, {"content-type": "text/html"}, b"<html><body><h1>Welcome to nginx!</h1></body></html>"
    if kind == "invalid_json":
        return 200, {}, b'{"id": "chatcmpl-1", "choices": [{'
    if kind == "no_choices":
        return 200, {}, {"status": "ok", "message": "hello"}
    quota = "You exceeded your current quota, please check your plan and billing details."
    return 429, {}, _error(quota, "insufficient_quota", "insufficient_quota")


_WORDS = {
    False: {
        "summary": "Changes described by “{title}”.",
        "commit": "Commit {sha}.",
        "impact": "Users of the touched modules.",
        "architecture": "Keeps the module boundaries.",
        "maintainability": "Smaller functions.",
        "risk": "Behaviour change in edge cases.",
        "recommendation": "Run the affected tests.",
        "figure": "About 2.5x faster than before.",
        "percent": "It also cuts memory use by 30%.",
        "identifier": "Routes requests through `FastPathScheduler`.",
        "overview": "The day brought {count} commits; the high-importance ones come first below.",
    },
    True: {
        "summary": "“{title}”所描述的改动。",
        "commit": "提交 {sha}。",
        "impact": "受影响的是所改动模块的用户。",
        "architecture": "保持了模块边界。",
        "maintainability": "函数更小。",
        "risk": "边界情况下的行为可能变化。",
        "recommendation": "运行受影响的测试。",
        "figure": "速度比以前快约 2.5 倍。",
        "percent": "内存占用还减少了 30%。",
        "identifier": "请求改由 `FastPathScheduler` 调度。",
        "overview": "今天共有 {count} 个提交，重要的排在前面。",
    },
}


def _analysis(title: str, user: str, chinese: bool) -> dict[str, Any]:
    """Deterministic, schema-valid, recognisably about this commit, and stating nothing the prompt does not."""
    prefix = re.sub(r"^(\[[^\]]*\]\s*)+", "", title).split(":", 1)[0].split("(", 1)[0].strip().lower()
    change_type = _TYPES.get(prefix, "feature")
    digest = int(hashlib.sha256(title.encode()).hexdigest(), 16)
    importance = ("high", "medium", "low")[digest % 3]
    words = _WORDS[chinese]
    sha = _SHA.search(user)
    return {
        "change_type": change_type,
        "importance": importance,
        "headline": (f"分析：{title}" if chinese else f"Analysis of {title}")[:200],
        "summary": [words["summary"].format(title=title), words["commit"].format(sha=sha[1][:7] if sha else "?")],
        "impact": words["impact"],
        "insights": {
            "architecture": words["architecture"] if importance == "high" else None,
            "performance": None,
            "security": None,
            "maintainability": words["maintainability"],
        },
        "risks": [words["risk"]] if importance != "low" else [],
        "recommendations": [words["recommendation"]],
        "breaking_change": False,
        "security_relevant": change_type == "security",
        "message_matches_diff": True,
        "mismatch_note": None,
    }


def _line(sha: str, title: str, chinese: bool) -> dict[str, Any]:
    """One commit's line of a thread's answer, from its "Title:" line."""
    whole = _analysis(title, "", chinese)
    keep = ("change_type", "importance", "headline", "breaking_change", "security_relevant")
    return {"sha": sha, **{k: whole[k] for k in keep}}


def _invent(answer: dict[str, Any], invent: str, chinese: bool) -> dict[str, Any]:
    words = _WORDS[chinese]
    if invent == "figure":
        answer["summary"].append(words["figure"])
        answer["headline"] += ("。" if chinese else ". ") + words["percent"]
    elif invent == "identifier":
        answer["summary"].append(words["identifier"])
    elif invent == "overclaim":
        answer.update(change_type="feature", importance="high", breaking_change=False)
    return answer


def _overview(user: str, chinese: bool) -> str:
    count = sum(1 for line in user.splitlines() if line.startswith("- ["))
    return _WORDS[chinese]["overview"].format(count=count)
