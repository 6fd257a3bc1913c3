"""The web archive: neutral pages, newest-first indexes, valid Atom, the same site in a folder and on S3."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import boto3
import feedparser
import pytest
from typer.testing import CliRunner

from newsletter import backends
from newsletter.archive import LocalArchive
from newsletter.cli import app
from newsletter.config import Settings
from newsletter.errors import ConfigError, InputError
from tests.archive_data import make_issue, make_rendered
from tests.fakes.aws import moto_server

DAY1, DAY2 = date(2026, 1, 12), date(2026, 1, 13)


def _site_files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8") for p in folder.rglob("*") if p.is_file()}


def _assert_nothing_personal(files: dict[str, str]) -> None:
    assert files
    for name, text in files.items():
        assert "%%" not in text, f"a placeholder leaked into {name}"
        assert "token=" not in text, f"a token leaked into {name}"


def test_local_archive_publishes_neutral_pages_indexes_and_feed(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path / "site", "https://digest.example.org/archive/")
    url1 = archive.publish(
        make_issue(DAY1), make_rendered(make_issue(DAY1), view=archive.url_for("sglang-daily", DAY1))
    )
    url2 = archive.publish(
        make_issue(DAY2), make_rendered(make_issue(DAY2), view=archive.url_for("sglang-daily", DAY2))
    )

    assert (
        url2
        == archive.url_for("sglang-daily", DAY2)
        == "https://digest.example.org/archive/sglang-daily/2026-01-13.html"
    )
    assert url1.endswith("/sglang-daily/2026-01-12.html")
    files = _site_files(tmp_path / "site")
    _assert_nothing_personal(files)
    page = files["sglang-daily/2026-01-13.html"]
    # View in browser is the page itself; the personal links point at the explanation, relative to the page.
    assert 'href="2026-01-13.html"' in page
    assert page.count('href="index.html#manage"') == 2
    assert "Sent to a subscriber." in page
    assert 'type="application/atom+xml" href="feed.xml"' in page
    text = files["sglang-daily/2026-01-13.txt"]
    assert f"View in browser: {url2}\n" in text
    assert "Unsubscribe: https://digest.example.org/archive/sglang-daily/index.html#manage" in text
    # The record keeps the issue for rebuilding, without diffs.
    record = json.loads(files["sglang-daily/2026-01-13.json"])
    assert record["issue"]["web_url"] == url2
    assert record["issue"]["repos"][0]["commits"][0]["commit"]["files"][0]["patch"] is None

    index = files["sglang-daily/index.html"]
    assert index.index("2026-01-13.html") < index.index("2026-01-12.html"), "newest first"
    assert 'id="manage"' in index and '<html lang="en">' in index
    assert "1 commit</span>" in index
    assert "sglang-daily/index.html" in files["index.html"]


def test_feed_is_valid_atom_newest_first(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path, "https://digest.example.org")
    for day in (DAY2, DAY1):  # published out of order
        archive.publish(make_issue(day), make_rendered(make_issue(day)))
    feed = feedparser.parse((tmp_path / "sglang-daily" / "feed.xml").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.id == "https://digest.example.org/sglang-daily/feed.xml"
    assert feed.feed.updated == "2026-01-13T23:00:00Z"
    links = {link.rel: link.href for link in feed.feed.links}
    assert links == {
        "self": "https://digest.example.org/sglang-daily/feed.xml",
        "alternate": "https://digest.example.org/sglang-daily/index.html",
    }
    assert [e.link for e in feed.entries] == [archive.url_for("sglang-daily", d) for d in (DAY2, DAY1)]
    first = feed.entries[0]
    assert first.id == first.link
    assert first.title == "SGLang daily — 2026-01-13: 1 commit"
    assert first.summary == "Faster prefix matching"
    assert first.updated == "2026-01-13T23:00:00Z"


def test_republishing_a_day_replaces_it(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path)
    archive.publish(make_issue(DAY1), make_rendered(make_issue(DAY1), subject="first try"))
    archive.publish(make_issue(DAY1), make_rendered(make_issue(DAY1), subject="second try"))
    assert [e.subject for e in archive.entries("sglang-daily")] == ["second try"]
    feed = feedparser.parse((tmp_path / "sglang-daily" / "feed.xml").read_bytes())
    assert [e.title for e in feed.entries] == ["second try"]


def test_everything_shown_is_escaped(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path)
    nasty = '<script>alert("x")</script> & more'
    issue = make_issue(DAY1, title=nasty)
    archive.publish(issue, make_rendered(issue, subject=nasty))
    for name in ("index.html", "sglang-daily/index.html", "sglang-daily/feed.xml"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert "<script>" not in text, name
        assert "&lt;script&gt;" in text, name
    assert not feedparser.parse((tmp_path / "sglang-daily" / "feed.xml").read_bytes()).bozo


def test_chinese_list_gets_chinese_pages(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path)
    issue = make_issue(DAY1, language="zh-CN", title="SGLang 日报")
    archive.publish(issue, make_rendered(issue))
    index = (tmp_path / "sglang-daily" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in index and "往期" in index
    assert "发送至" not in index  # nothing borrowed from the email
    assert "Sent to 订阅者." in (tmp_path / "sglang-daily" / "2026-01-12.html").read_text(encoding="utf-8")


def test_subscribe_form_posts_to_the_public_endpoint(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path, public_url="https://api.example.org/")
    archive.publish(make_issue(DAY1), make_rendered(make_issue(DAY1)))
    index = (tmp_path / "sglang-daily" / "index.html").read_text(encoding="utf-8")
    assert '<form method="post" action="https://api.example.org/subscribe">' in index
    assert '<input type="hidden" name="list" value="sglang-daily">' in index
    assert '<label for="email">' in index


@pytest.mark.parametrize("list_id", ["../etc", "a/b", ".hidden", ""])
def test_list_ids_cannot_escape_the_archive(tmp_path: Path, list_id: str) -> None:
    archive = LocalArchive(tmp_path)
    issue = make_issue(DAY1, list_id=list_id)
    if list_id == "":  # no list: the default folder
        assert archive.publish(issue, make_rendered(issue)).endswith("/digest/2026-01-12.html")
        return
    with pytest.raises(InputError):
        archive.publish(issue, make_rendered(issue))


def test_open_archive_chooses_by_scheme(tmp_path: Path) -> None:
    default = backends.open_archive(Settings.from_env({"NEWSLETTER_DATA_DIR": str(tmp_path)}))
    assert isinstance(default, LocalArchive) and default.folder == tmp_path / "archive"
    assert default.base_url == (tmp_path / "archive").as_uri()
    with pytest.raises(ConfigError, match="NEWSLETTER_ARCHIVE"):
        backends.open_archive(
            Settings.from_env({"NEWSLETTER_DATA_DIR": str(tmp_path), "NEWSLETTER_ARCHIVE": "ftp://x"})
        )


def test_archive_build_rebuilds_the_site_elsewhere(tmp_path: Path, isolated_env: Path) -> None:
    source = backends.open_archive(Settings.from_env())
    for day in (DAY1, DAY2):
        source.publish(make_issue(day), make_rendered(make_issue(day), view=source.url_for("sglang-daily", day)))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["archive", "build", "--out", str(out), "--base-url", "https://new.example/"])
    assert result.exit_code == 0, result.output
    assert "Wrote 2 issue(s)" in result.output
    files = _site_files(out)
    _assert_nothing_personal(files)
    assert files["sglang-daily/2026-01-13.html"] == (source.folder / "sglang-daily/2026-01-13.html").read_text()
    assert "View in browser: https://new.example/sglang-daily/2026-01-13.html" in files["sglang-daily/2026-01-13.txt"]
    feed = feedparser.parse(files["sglang-daily/feed.xml"].encode())
    assert feed.entries[0].link == "https://new.example/sglang-daily/2026-01-13.html"


def test_archive_build_with_an_empty_archive_and_a_bad_out(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["archive", "build", "--out", str(tmp_path / "empty")])
    assert result.exit_code == 0 and "holds no issue yet" in result.output
    (tmp_path / "file").write_text("x")
    result = CliRunner().invoke(app, ["archive", "build", "--out", str(tmp_path / "file")])
    assert result.exit_code == 2 and "is a file" in result.output


def test_s3_archive_through_moto_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with moto_server() as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket="digest-archive")
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("NEWSLETTER_ARCHIVE", "s3://digest-archive/site")
        monkeypatch.setenv("NEWSLETTER_ARCHIVE_URL", "https://d111.cloudfront.net")
        archive = backends.open_archive(Settings.from_env())
        url = archive.publish(make_issue(DAY1), make_rendered(make_issue(DAY1)))
        assert url == "https://d111.cloudfront.net/sglang-daily/2026-01-12.html"

        page = s3.get_object(Bucket="digest-archive", Key="site/sglang-daily/2026-01-12.html")
        assert page["ContentType"] == "text/html; charset=utf-8"
        assert page["CacheControl"].startswith("public, max-age=")
        assert "%%" not in page["Body"].read().decode()
        feed = s3.get_object(Bucket="digest-archive", Key="site/sglang-daily/feed.xml")
        assert feed["ContentType"] == "application/atom+xml; charset=utf-8"
        parsed = feedparser.parse(feed["Body"].read())
        assert not parsed.bozo and parsed.entries[0].link == url
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="digest-archive")["Contents"]}
        assert all(k.startswith("site/") for k in keys)
        assert {"site/index.html", "site/sglang-daily/index.html", "site/sglang-daily/2026-01-12.md"} <= keys

        # The same site, rebuilt from S3 into a folder.
        result = CliRunner().invoke(app, ["archive", "build", "--out", str(tmp_path / "copy")])
        assert result.exit_code == 0, result.output
        files = _site_files(tmp_path / "copy")
        _assert_nothing_personal(files)
        assert "sglang-daily/2026-01-12.html" in files

        # A missing bucket is one clear error, not a traceback.
        monkeypatch.setenv("NEWSLETTER_ARCHIVE", "s3://no-such-bucket")
        result = CliRunner().invoke(app, ["archive", "build", "--out", str(tmp_path / "x")])
        assert result.exit_code == 1 and "s3://no-such-bucket" in result.output
