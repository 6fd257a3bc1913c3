"""TEMPORARY stand-in until the analyze helper's render_markdown lands on main (replaced at merge)."""

from __future__ import annotations

from newsletter.models import Issue


def render_markdown(issue: Issue) -> str:
    lines = [f"# {issue.title} ({issue.date.isoformat()})", ""]
    for repo in issue.repos:
        lines += [f"## {repo.repo}", ""]
        lines += [f"- `{c.commit.short_sha}` {c.commit.title}" for c in repo.commits]
    return "\n".join(lines) + "\n"
