"""Composing the issue: order, statistics, groups, min_importance."""

from __future__ import annotations

from datetime import UTC, datetime

from newsletter.analyze.heuristic import analyse
from newsletter.compose import compose_issue
from newsletter.models import AnalyzedCommit, Importance
from tests.day import DAY, TZ, day_of_commits


def _issue(min_importance: Importance = Importance.LOW):
    day = day_of_commits(40)
    shuffled = day.commits[::3] + day.commits[1::3] + day.commits[2::3]
    analysed = [AnalyzedCommit(commit=c, analysis=analyse(c, "en")) for c in shuffled]
    return day, compose_issue(
        [day],
        {day.repo: analysed},
        title="T",
        language="en",
        day=DAY,
        timezone=TZ,
        min_importance=min_importance,
        generated_at=datetime(2026, 1, 14, tzinfo=UTC),
    )


def test_newest_first_with_statistics() -> None:
    day, issue = _issue()
    repo = issue.repos[0]
    assert [c.commit.sha for c in repo.commits] == [c.sha for c in day.commits]
    s = repo.stats
    assert s.commits == 40
    assert sum(s.by_importance.values()) == 40 and sum(s.by_type.values()) == 40
    assert s.additions == sum(c.additions for c in day.commits)
    assert s.deletions == sum(c.deletions for c in day.commits)
    assert s.authors == len({c.author.login for c in day.commits})
    assert s.files_changed == len({f.path for c in day.commits for f in c.files})
    assert s.top_dirs[0] == ("sgl-model-gateway/src/", 10)
    assert issue.stats == s  # one repository: the issue's totals are the repository's


def test_groups_go_high_to_low_and_cover_every_commit() -> None:
    _, issue = _issue()
    repo = issue.repos[0]
    groups = [repo.group(level) for level in Importance]
    assert sum(len(g) for g in groups) == 40
    assert [len(g) for g in groups] == [repo.stats.by_importance[level] for level in Importance]


def test_min_importance_hides_commits_but_keeps_the_day_statistics() -> None:
    _, issue = _issue(Importance.MEDIUM)
    repo = issue.repos[0]
    assert repo.stats.commits == 40
    assert repo.commits and all(c.analysis.importance != Importance.LOW for c in repo.commits)
    assert len(repo.commits) == repo.stats.by_importance[Importance.HIGH] + repo.stats.by_importance[Importance.MEDIUM]
