"""Segments: readers who chose the same (language, lowest importance, areas, cadence) share one render; each
reader gets exactly one message holding only what matches their choices, and a reader whose areas saw nothing
today gets none (recorded in the ledger, not a failure). The whole daily job runs: the synthetic day of
sgl-project/sglang (tests/day.py), the key-less analysis in both languages, the SQLite store, the outbox."""

from __future__ import annotations

import email
import email.policy
import re
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

import pytest

from newsletter.config import Settings
from newsletter.context import Context
from newsletter.issue import Issue
from newsletter.lists import parse_list
from newsletter.models import Importance, ReaderPreferences
from newsletter.pipeline import run_list
from newsletter.preferences import touches
from newsletter.segments import Segment, load_base, narrow
from newsletter.store.base import LedgerState, MemberStatus
from tests.day import DAY, day_of_commits

GATEWAY = ("sgl-model-gateway/",)
KERNELS = ("python/sglang/multimodal_gen/", "sgl-kernel/", "python/sglang/jit_kernel/")  # each area has a high change
NOTHING = ("docs/nowhere/",)
LIST = parse_list(
    {
        "title": "SGLang daily",
        "repos": ["sgl-project/sglang"],
        "timezone": "Asia/Shanghai",
        "languages": ["zh-CN", "en"],
        "sender": "Digest <digest@example.com>",
        "postal_address": "1 Example Road",
        "analyzer": "heuristic",
    },
    list_id="sglang",
    source="sglang.toml",
)


def _messages(outbox: Path) -> list[EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted(outbox.glob("*.eml"))
    ]


@pytest.fixture
def ctx(isolated_env: Path) -> Context:
    settings = Settings.from_env()
    return Context(settings=settings)


def test_a_thousand_readers_in_twelve_segments_are_rendered_twelve_times(ctx: Context, isolated_env: Path) -> None:
    store = ctx.store
    repos = [day_of_commits(40)]
    choices = [
        ReaderPreferences(language=language, min_importance=importance, areas=areas)
        for language in ("zh-CN", "en")
        for importance in Importance
        for areas in (GATEWAY, KERNELS)
    ]
    readers = {f"r{i:04d}@example.com": choices[i % len(choices)] for i in range(1000)}
    nobody = {f"n{i}@example.com": ReaderPreferences(areas=NOTHING) for i in range(3)}
    everyone = {**readers, **nobody}
    store.add_members([(e, None) for e in everyone], "sglang", status=MemberStatus.ACTIVE, source="test")
    for address, prefs in everyone.items():
        assert store.set_preferences(address, "sglang", prefs, source="test")

    run = run_list(LIST, DAY, ctx, repos=repos)
    assert run.ok and run.campaign is not None, run.error
    assert run.campaign.segments == 13  # the twelve, and the one whose area saw nothing today
    assert run.campaign.rendered == 12  # not 1,000: once per segment, and never for one with nothing to say
    assert run.campaign.sent == 1000 and run.campaign.empty == 3 and run.campaign.failed == 0

    mails = _messages(isolated_env / "outbox")
    assert Counter(str(m["To"]) for m in mails) == Counter(list(readers))  # each reader once, nobody else
    ledger = {e.email: e.state for e in store.entries(run.issue_id)}
    assert {ledger[a] for a in nobody} == {LedgerState.EMPTY} and ledger["r0000@example.com"] == LedgerState.SENT

    # Each message holds exactly the commits its reader's choices match, in the reader's language.
    day = repos[0].commits
    bases = {lang: load_base(store, ctx.archive, f"sglang/{DAY}", lang) for lang in ("zh-CN", "en")}
    assert bases["en"] is not None and bases["zh-CN"] is not None
    for mail in mails:
        prefs = readers[str(mail["To"])]
        text = mail.get_body(("plain",)).get_content()
        expected, touching = _selected(bases["en"], prefs.areas, prefs.min_importance)  # type: ignore[arg-type]
        found = {sha for sha in re.findall(r"\b([0-9a-f]{7})\b", text) if sha in {c.sha[:7] for c in day}}
        assert found == expected, (mail["To"], prefs)
        if prefs.language == "en":
            assert (
                f"{touching} of today's 40 commits touch" in text or f"{touching} of today's 40 commits touches" in text
            )
        else:
            assert f"今天的 40 个提交中有 {touching} 个涉及你关注的领域" in text
        assert run.archived is not None and run.archived in text  # the whole issue on the web

    again = run_list(LIST, DAY, ctx, repos=repos)
    assert again.outcome == "already-sent" and len(_messages(isolated_env / "outbox")) == 1000


def test_a_resumed_campaign_sends_what_was_rendered_and_renders_nothing_again(ctx: Context, isolated_env: Path) -> None:
    from newsletter.pipeline import deliver_issue, prepare

    store = ctx.store
    repos = [day_of_commits(40)]
    store.add_members(
        [("a@example.com", None), ("b@example.com", None)], "sglang", status=MemberStatus.ACTIVE, source="t"
    )
    store.set_preferences("a@example.com", "sglang", ReaderPreferences(areas=GATEWAY, language="en"), source="t")
    prepared = prepare(LIST, DAY, ctx, repos=repos)
    assert prepared.sendable is not None
    first = deliver_issue(LIST, prepared.sendable, ctx, repos=repos, dry_run=True)
    assert (first.sent, first.rendered, first.segments) == (2, 1, 1)
    second = deliver_issue(LIST, prepared.sendable, ctx, repos=repos)
    assert (second.sent, second.rendered) == (2, 0)  # kept from the dry run: the same bytes
    # A change of preferences holds from the next issue: today's mail is not sent again.
    store.set_preferences("a@example.com", "sglang", ReaderPreferences(areas=KERNELS), source="t")
    third = deliver_issue(LIST, prepared.sendable, ctx, repos=repos)
    assert (third.sent, third.skipped) == (0, 2)


def test_narrow_counts_what_touches_the_areas_and_keeps_what_is_important_enough() -> None:
    from newsletter.pipeline import build_issue

    repos = [day_of_commits(40)]
    settings = Settings.from_env()
    from newsletter.store.sqlite import SqliteStore

    base = build_issue(
        repos, language="en", settings=settings, store=SqliteStore(":memory:"), analyzer_choice="heuristic"
    )
    mine = narrow(base, Segment("en", Importance.HIGH, GATEWAY), whole_url="https://example.com/i")
    assert mine.focus is not None and (mine.focus.commits, mine.focus.total) == (11, 40)
    assert mine.stats.commits == 11 and base.stats.commits == 40
    shown = mine.repos[0].commits
    assert {c.commit.short_sha for c in shown} == _selected(base, GATEWAY, Importance.HIGH)[0]
    assert any(c.analysis.importance == Importance.MEDIUM for c in shown)  # with its high thread
    assert all(any(f.path.startswith("sgl-model-gateway/") for f in c.commit.files) for c in shown)
    everything = narrow(base, Segment("en", Importance.LOW))
    assert everything.focus is None and len(everything.repos[0].commits) == 40


# --- the same on AWS: the tick queues every reader, each SQS sender builds its batch's segments ------------


def test_the_sqs_senders_send_each_reader_their_segment_and_nothing_to_those_with_nothing(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsletter.aws import handlers
    from tests.aws_stack import DATA, event, make_stack
    from tests.fakes.github import FakeGitHub

    with FakeGitHub(DATA / "github" / "widgets-2026-03-08") as gh:
        stack = make_stack(moto_endpoint, tmp_path, {"GITHUB_API_URL": gh.api_url, "GITHUB_URL": gh.web_url})
        for name, value in stack.env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("NEWSLETTER_SEND_BATCH", "4")
        store = stack.store()
        everyone = [f"reader{i:02d}@{stack.domain}" for i in range(12)]
        store.add_members([(e, None) for e in everyone], "widgets", status=MemberStatus.ACTIVE, source="test")
        docs, nowhere = everyone[:4], everyone[4:6]
        for address in docs:
            store.set_preferences(address, "widgets", ReaderPreferences(areas=("docs/",)), source="test")
        for address in nowhere:
            store.set_preferences(address, "widgets", ReaderPreferences(areas=NOTHING), source="test")

        scheduled = event("scheduler-event.json")
        scheduled["time"] = "2026-03-09T15:00:00Z"  # 08:00 in Los Angeles: the digest of 2026-03-08
        assert handlers.scheduled(scheduled, None)["issues"][0]["messages"] == 3
        stack.drain(handlers.send_batch)

    mails = stack.mails()
    assert Counter(str(m["To"]) for m in mails) == Counter(set(everyone) - set(nowhere))
    for mail in mails:
        text = mail.get_body(("plain",)).get_content()
        if str(mail["To"]) in docs:
            assert "1 of today's 6 commits touches your areas (docs/)" in text  # the bot's bump is left out
            assert "pin ruff" not in text and "architecture diagram" in text
        else:
            assert "your areas" not in text and "pin ruff" in text
    ledger = {e.email: e.state for e in store.entries("widgets/2026-03-08")}
    assert {ledger[a] for a in nowhere} == {LedgerState.EMPTY}


def _base() -> Issue:
    from newsletter.pipeline import build_issue
    from newsletter.store.sqlite import SqliteStore

    return build_issue(
        [day_of_commits(40)],
        language="en",
        settings=Settings.from_env(),
        store=SqliteStore(":memory:"),
        analyzer_choice="heuristic",
    )


def test_a_thread_counts_as_a_unit_by_its_own_importance_and_any_area_of_its_commits() -> None:
    base = _base()
    digest = base.repos[0]
    by_sha = {c.commit.sha: c for c in digest.commits}
    # A model may rate a thread above each of its commits: the medium "L1 cache" series becomes high.
    series = next(th for th in digest.threads if "L1 cache" in th.title)
    assert all(by_sha[sha].analysis.importance != Importance.HIGH for sha in series.shas)
    # And a thread may join a gateway commit with a low commit elsewhere (a revert pair across folders).
    outside = next(c for c in digest.commits if c.analysis.importance == Importance.LOW and not touches_any(c, GATEWAY))
    gateway_other = next(
        c
        for c in digest.commits
        if c.analysis.importance != Importance.HIGH
        and touches_any(c, GATEWAY)
        and not any(c.commit.sha in th.shas for th in digest.threads)
    )
    pair = series.model_copy(
        update={
            "id": "revert-pair",
            "shas": [outside.commit.sha, gateway_other.commit.sha],
            "lead": gateway_other.commit.sha,
        }
    )
    pair = pair.model_copy(update={"importance": Importance.HIGH})
    threads = [th.model_copy(update={"importance": Importance.HIGH}) if th is series else th for th in digest.threads]
    base = base.model_copy(update={"repos": [digest.model_copy(update={"threads": [*threads, pair]})]})

    mine = narrow(base, Segment("en", Importance.HIGH, GATEWAY))
    shown = {c.commit.sha for c in mine.repos[0].commits}
    assert set(series.shas) <= shown  # the whole thread, by the thread's importance
    assert outside.commit.sha in shown  # a member outside the areas, with its thread
    cards = mine.repos[0].cards(Importance.HIGH)
    assert {"revert-pair", series.id} <= {card.anchor for card in cards}
    # Every shown commit touches the areas or belongs to a thread that does; the count says how many touch.
    assert mine.focus is not None and mine.focus.commits == 11 + 1
    assert mine.stats.commits == mine.focus.commits


def test_a_narrowed_issue_does_not_speak_about_the_whole_day() -> None:
    from newsletter.render.email import render_issue

    base = _base()
    assert base.repos[0].overview and "specforge/" in base.repos[0].overview  # about the whole day
    mine = narrow(base, Segment("en", Importance.HIGH, GATEWAY), whole_url="https://example.com/i")
    rendered = render_issue(mine)
    assert "11 of today's 40 commits touch your areas (sgl-model-gateway/)." in rendered.text
    assert "specforge/" not in rendered.text and "Today's main changes" not in rendered.text
    assert mine.repos[0].overview is None
    # The list's own issue (no areas) keeps the day's overview.
    assert narrow(base, Segment("en", Importance.LOW)).repos[0].overview == base.repos[0].overview


def touches_any(item: object, areas: tuple[str, ...]) -> bool:
    return any(touches(f.path, areas) for f in item.commit.files)  # type: ignore[attr-defined]


def _selected(base: Issue, areas: tuple[str, ...], lowest: Importance) -> tuple[set[str], int]:
    """What a reader of ``areas`` at ``lowest`` is shown (short SHAs) and how many commits touch their areas:
    a commit of an analysed thread goes with its thread (any commit of it touching, the thread's importance),
    any other commit on its own."""
    digest = base.repos[0]
    touch = {c.commit.sha for c in digest.commits if touches_any(c, areas)}
    rating = {c.commit.sha: c.analysis.importance for c in digest.commits}
    shown = {sha for sha in touch if rating[sha].rank <= lowest.rank}
    for thread in digest.threads:
        assert thread.importance is not None
        shown -= set(thread.shas)
        if touch & set(thread.shas):
            touch |= set(thread.shas)
            if thread.importance.rank <= lowest.rank:
                shown |= set(thread.shas)
    return {sha[:7] for sha in shown}, len(touch)
