"""Building the archive site: neutral issue pages, per-list manifests, indexes and Atom feeds."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from newsletter.archive.storage import Storage
from newsletter.errors import ArchiveError, InputError
from newsletter.i18n import language_of
from newsletter.issue import Issue
from newsletter.models import Placeholder, RenderedIssue
from newsletter.web.templating import render, t

_LIST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_ISSUE_KEY = re.compile(r"^(?P<list>[A-Za-z0-9][A-Za-z0-9._-]*)/(?P<week>week-)?(?P<day>\d{4}-\d{2}-\d{2})\.json$")
_ANY_PLACEHOLDER = re.compile(r"%%[a-z_]+%%")
_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)
FEED_ENTRIES = 50
DEFAULT_LIST = "digest"

# Pages may be republished (a re-run of the day), so nothing is cached for long; indexes change daily.
_PAGE = "public, max-age=3600"
_INDEX = "public, max-age=300"
_DATA = "no-cache"
_TYPES = {
    "html": "text/html; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "xml": "application/atom+xml; charset=utf-8",
}
PARTS = ("html", "txt", "md")


def content_type_for(key: str) -> str | None:
    """The Content-Type of an archive file, by its extension; None for what the archive never writes."""
    return _TYPES.get(key.rsplit(".", 1)[-1]) if "." in key else None


class ArchivedIssue(BaseModel):
    """One line of a list's index and one entry of its feed."""

    list_id: str
    date: date
    title: str
    subject: str
    preheader: str = ""
    language: str = "en"
    generated_at: datetime
    commit_count: int = 0
    weekly: bool = False  # the week ending on ``date`` (newsletter/weekly.py)

    @property
    def page(self) -> str:
        return f"{stem(self.date, weekly=self.weekly)}.html"


def stem(day: date, *, weekly: bool = False) -> str:
    """An issue's file name without extension: the day, or ``week-<last day>`` for a weekly issue."""
    return f"week-{day.isoformat()}" if weekly else day.isoformat()


def safe_list_id(list_id: str | None) -> str:
    """The list id as a path segment; refuses anything that could climb out of the archive."""
    value = list_id or DEFAULT_LIST
    if not _LIST_ID.match(value):
        raise InputError(f"list id {value!r} cannot name an archive folder", hint="use letters, digits, . _ -")
    return value


def _without_patches(issue: Issue) -> dict[str, Any]:
    # Diffs are what the analysis read, not what a reader sees; they can be megabytes, so they stay out.
    data = issue.model_dump(mode="json")
    for repo in data.get("repos", []):
        for analysed in repo.get("commits", []):
            for change in analysed.get("commit", {}).get("files", []):
                change["patch"] = None
    return data


def neutralise(text: str, values: dict[str, str], *, escape: bool) -> str:
    """Replace every per-recipient placeholder with a neutral value; unknown placeholders vanish."""
    for placeholder in Placeholder:
        value = values.get(placeholder.value, "")
        text = text.replace(placeholder.value, html.escape(value) if escape else value)
    return _ANY_PLACEHOLDER.sub("", text)


class Site:
    """The archive site over a Storage. ``base_url`` is the public URL of the storage's root."""

    def __init__(self, storage: Storage, base_url: str, *, public_url: str | None = None) -> None:
        self.storage = storage
        self.base_url = base_url.rstrip("/")
        self.subscribe_action = f"{public_url.rstrip('/')}/subscribe" if public_url else None

    # ------------------------------------------------------------------------------------------ URLs

    def url_for(self, list_id: str, day: date, *, weekly: bool = False) -> str:
        return f"{self.base_url}/{safe_list_id(list_id)}/{stem(day, weekly=weekly)}.html"

    def list_url(self, list_id: str) -> str:
        return f"{self.base_url}/{safe_list_id(list_id)}/index.html"

    def feed_url(self, list_id: str) -> str:
        return f"{self.base_url}/{safe_list_id(list_id)}/feed.xml"

    # ------------------------------------------------------------------------------------------ publish

    def publish(self, issue: Issue, rendered: RenderedIssue) -> str:
        list_id = safe_list_id(issue.list_id)
        weekly = issue.week is not None
        url = self.url_for(list_id, issue.date, weekly=weekly)
        entry = ArchivedIssue(
            list_id=list_id,
            date=issue.date,
            title=issue.title,
            subject=rendered.subject,
            preheader=rendered.preheader,
            language=language_of(issue.language),
            generated_at=issue.generated_at,
            commit_count=issue.commit_count,
            weekly=weekly,
        )
        neutral_email = t(entry.language, "archive.neutral_email")
        relative = {
            Placeholder.UNSUBSCRIBE_URL.value: "index.html#manage",
            Placeholder.PREFERENCES_URL.value: "index.html#manage",
            Placeholder.EMAIL.value: neutral_email,
        }
        absolute = {
            **relative,
            Placeholder.UNSUBSCRIBE_URL.value: f"{self.list_url(list_id)}#manage",
            Placeholder.PREFERENCES_URL.value: f"{self.list_url(list_id)}#manage",
        }
        # The page is the whole issue (never shed): the email links to its anchors for what it left out.
        page = neutralise(rendered.web_html or rendered.html, relative, escape=True)
        # The page's links to itself ("view in browser") are relative too, so that a copy elsewhere still works.
        page = page.replace(f'href="{html.escape(url)}', f'href="{entry.page}')
        feed_link = '<link rel="alternate" type="application/atom+xml" href="feed.xml">\n'
        page = _HEAD_END.sub(lambda m: feed_link + m.group(0), page, count=1)
        parts = {
            "html": page,
            "txt": neutralise(rendered.text, absolute, escape=False),
            "md": neutralise(rendered.markdown, absolute, escape=False),
        }
        record = {
            "entry": entry.model_dump(mode="json"),
            "base_url": self.base_url,
            "html_bytes": rendered.html_bytes,
            "shed": rendered.shed,
            "issue": _without_patches(issue.model_copy(update={"web_url": url})),
        }
        self.write_record(list_id, issue.date, record, parts, weekly=weekly)
        self._add_to_indexes(entry)
        return url

    def write_record(
        self,
        list_id: str,
        day: date,
        record: dict[str, Any],
        parts: dict[str, str],
        *,
        old_base: str | None = None,
        weekly: bool = False,
    ) -> None:
        """Write one issue's page, twins and record. ``old_base``: the base URL the text twins were written
        for, swapped for this site's (pages link relatively and need no change)."""
        name = f"{safe_list_id(list_id)}/{stem(day, weekly=weekly)}"
        for ext, text in parts.items():
            if old_base and ext != "html":
                text = text.replace(old_base.rstrip("/") + "/", self.base_url + "/")
            self.storage.write(f"{name}.{ext}", text.encode(), content_type=_TYPES[ext], cache_control=_PAGE)
        record = {**record, "base_url": self.base_url}
        self._write_json(f"{name}.json", record, _PAGE)

    # ------------------------------------------------------------------------------------------ read

    def issue_keys(self) -> list[tuple[str, date, bool]]:
        """Every archived (list, day, weekly), found by scanning the storage (works without any manifest)."""
        found = []
        for key in self.storage.list_keys():
            match = _ISSUE_KEY.match(key)
            if match:
                try:
                    found.append((match["list"], date.fromisoformat(match["day"]), bool(match["week"])))
                except ValueError:
                    continue
        return sorted(found)

    def read_record(self, list_id: str, day: date, *, weekly: bool = False) -> dict[str, Any] | None:
        return self._read_json(f"{safe_list_id(list_id)}/{stem(day, weekly=weekly)}.json")

    def read_parts(self, list_id: str, day: date, *, weekly: bool = False) -> dict[str, str]:
        name = f"{safe_list_id(list_id)}/{stem(day, weekly=weekly)}"
        parts = {}
        for ext in PARTS:
            data = self.storage.read(f"{name}.{ext}")
            if data is not None:
                parts[ext] = data.decode()
        return parts

    def entries(self, list_id: str) -> list[ArchivedIssue]:
        """The list's archived issues, newest first (from its manifest)."""
        manifest = self._read_json(f"{safe_list_id(list_id)}/issues.json") or {}
        return [self._entry(item, f"{list_id}/issues.json") for item in manifest.get("issues", [])]

    def list_ids(self) -> list[str]:
        return sorted((self._read_json("lists.json") or {}).get("lists", {}))

    # ------------------------------------------------------------------------------------------ indexes

    def reindex(self) -> int:
        """Rebuild every manifest, index and feed from the issues' records; returns the number of issues."""
        by_list: dict[str, list[ArchivedIssue]] = {}
        for list_id, day, weekly in self.issue_keys():
            record = self.read_record(list_id, day, weekly=weekly)
            if record and "entry" in record:
                where = f"{list_id}/{stem(day, weekly=weekly)}.json"
                by_list.setdefault(list_id, []).append(self._entry(record["entry"], where))
        lists = {}
        for list_id, entries in by_list.items():
            entries.sort(key=lambda e: e.date, reverse=True)
            self._write_list(list_id, entries)
            lists[list_id] = self._summary(entries)
        self._write_root(lists)
        return sum(len(e) for e in by_list.values())

    def _add_to_indexes(self, entry: ArchivedIssue) -> None:
        # One writer per list per day (the scheduled run), so a read-modify-write of the manifests is safe.
        entries = [e for e in self.entries(entry.list_id) if (e.date, e.weekly) != (entry.date, entry.weekly)]
        entries.append(entry)
        entries.sort(key=lambda e: e.date, reverse=True)
        self._write_list(entry.list_id, entries)
        lists = (self._read_json("lists.json") or {}).get("lists", {})
        lists[entry.list_id] = self._summary(entries)
        self._write_root(lists)

    @staticmethod
    def _summary(entries: list[ArchivedIssue]) -> dict[str, str]:
        return {"title": entries[0].title, "language": entries[0].language, "latest": entries[0].date.isoformat()}

    def _write_list(self, list_id: str, entries: list[ArchivedIssue]) -> None:
        title, language = entries[0].title, entries[0].language
        self._write_json(
            f"{list_id}/issues.json",
            {"list_id": list_id, "issues": [e.model_dump(mode="json") for e in entries]},
            _DATA,
        )
        page = render(
            "list_index.html.j2",
            language,
            title=title,
            list_id=list_id,
            issues=entries,
            subscribe_action=self.subscribe_action,
            email=None,
        )
        self.storage.write(f"{list_id}/index.html", page.encode(), content_type=_TYPES["html"], cache_control=_INDEX)
        feed_entries = [
            {
                "url": self.url_for(list_id, e.date, weekly=e.weekly),
                "subject": e.subject,
                "summary": e.preheader or e.subject,
                "updated": _rfc3339(e.generated_at),
            }
            for e in entries[:FEED_ENTRIES]
        ]
        feed = render(
            "feed.atom.j2",
            language,
            title=title,
            feed_url=self.feed_url(list_id),
            index_url=self.list_url(list_id),
            updated=max(_rfc3339(e.generated_at) for e in entries),
            entries=feed_entries,
        )
        self.storage.write(f"{list_id}/feed.xml", feed.encode(), content_type=_TYPES["xml"], cache_control=_INDEX)

    def _write_root(self, lists: dict[str, dict[str, str]]) -> None:
        self._write_json("lists.json", {"lists": lists}, _DATA)
        languages = {item.get("language", "en") for item in lists.values()}
        language = languages.pop() if len(languages) == 1 else "en"
        items = [
            {"href": f"{list_id}/index.html", "title": item["title"], "latest": item.get("latest")}
            for list_id, item in sorted(lists.items())
        ]
        page = render("site_index.html.j2", language, title=t(language, "site.name"), lists=items)
        self.storage.write("index.html", page.encode(), content_type=_TYPES["html"], cache_control=_INDEX)

    # ------------------------------------------------------------------------------------------ json

    def _write_json(self, key: str, value: dict[str, Any], cache_control: str) -> None:
        data = json.dumps(value, ensure_ascii=False, indent=1).encode()
        self.storage.write(key, data, content_type=_TYPES["json"], cache_control=cache_control)

    def _read_json(self, key: str) -> dict[str, Any] | None:
        data = self.storage.read(key)
        if data is None:
            return None
        try:
            value = json.loads(data)
        except ValueError as err:
            raise ArchiveError(f"archive file {key} is not valid JSON: {err}", hint="republish the issue") from err
        if not isinstance(value, dict):
            raise ArchiveError(f"archive file {key} does not hold a JSON object")
        return value

    @staticmethod
    def _entry(item: Any, where: str) -> ArchivedIssue:
        try:
            return ArchivedIssue.model_validate(item)
        except ValidationError as err:
            raise ArchiveError(f"archive file {where} has an invalid entry: {err.errors()[0]['msg']}") from err


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
