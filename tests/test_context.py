"""The composition root: what Context makes from the settings and a list's own settings."""

from __future__ import annotations

from newsletter.context import Context
from newsletter.models import MailingList, RepoSpec
from newsletter.pipeline import build_day
from tests.day import day_of_commits
from tests.fakes.openai import FakeOpenAI
from tests.llm_helpers import llm_settings


def _list(**extra: str) -> MailingList:
    return MailingList(
        id="sglang",
        title="sglang daily",
        repos=[RepoSpec.parse("sgl-project/sglang")],
        sender="Digest <digest@example.com>",
        postal_address="1 Example Road",
        **extra,
    )


def test_a_lists_model_is_the_model_its_commits_are_analysed_with() -> None:
    day = day_of_commits(3)
    with FakeOpenAI() as fake, Context.open(llm_settings(fake, openai_model="env-model")) as ctx:
        for mailing_list, expected in ((_list(model="list-model"), "list-model"), (_list(), "env-model")):
            before = len(fake.requests)
            issue = build_day(
                ctx,
                list(mailing_list.repos),
                day.window,
                language="zh-CN" if expected == "list-model" else "en",  # no cache hit between the two
                analyzer=ctx.analyzer_for(mailing_list),
                repos=[day],
            )
            asked = {r.body["model"] for r in fake.requests[before:]}
            assert asked == {expected}
            assert issue.usage.model == expected


def test_a_lists_analyzer_choice_wins_over_the_key() -> None:
    day = day_of_commits(3)
    with FakeOpenAI() as fake, Context.open(llm_settings(fake)) as ctx:
        analyzer = ctx.analyzer_for(_list(analyzer="heuristic"))
        issue = build_day(ctx, [], day.window, language="en", analyzer=analyzer, repos=[day])
        assert fake.requests == [] and issue.usage.analyzer == "heuristic"
