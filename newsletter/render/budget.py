"""The email's size budget: what it shows of each item, chosen from sizes measured once.

Gmail clips a message whose HTML passes about 102 KB and hides the rest, the unsubscribe footer with it. The
HTML part is measured as sent: after each recipient's links replace the placeholders, with the longest links a
real deployment makes (API Gateway and CloudFront domains, signed tokens for a long address).

Items are shed whole, one at a time, from the end of each group: low one-liners, then medium cards (to one
line, then out), then the detail of high cards (insights, risks, recommendations). An item taken out of the
cards is still a row of the commit table. Then the commit tables give way, one at a time, to one link each
to the web version's table. The high items' analysis goes last: the rest of it (down to one line with the
headline), then the lines themselves. The room a table frees is given back to the items, last shed first.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field

from newsletter.models import Placeholder
from newsletter.render.view import IMPORTANCES, IssueView

# The most the email may weigh as sent; 2,000 bytes under Gmail's ~102,000-byte clip.
DEFAULT_BUDGET = 100_000

# Levels of detail: 3 whole card, 2 card without insights/risks/recommendations, 1 one line, 0 not shown.
LADDERS = {"high": (3, 2, 1, 0), "medium": (3, 1, 0), "low": (1, 0)}
# (name, importance, from, to) in the order they are applied.
PHASES = (
    ("low-lines", "low", 1, 0),
    ("medium-cards", "medium", 3, 1),
    ("medium-lines", "medium", 1, 0),
    ("high-detail", "high", 3, 2),
    ("high-analysis", "high", 2, 1),
    ("high-lines", "high", 1, 0),
)
# The phases that come after the commit tables have given way to links: the high items' analysis is the last
# thing to go.
LAST = frozenset({"high-analysis", "high-lines"})
# Bytes kept for the sentences that say what was shed (one per group, with a link to the web version).
NOTE_ROOM = 700

# What a recipient's links look like at their longest: the view URL on a CloudFront domain, and signed
# tokens for a long address on an API Gateway domain (itsdangerous: JSON payload, timestamp, signature).
_API = "https://a1b2c3d4e5.execute-api.ap-southeast-1.amazonaws.com"
_TOKEN = "x" * 260
LONGEST = {
    Placeholder.UNSUBSCRIBE_URL.value: f"{_API}/unsubscribe?token={_TOKEN}",
    Placeholder.PREFERENCES_URL.value: f"{_API}/preferences?token={_TOKEN}",
    Placeholder.EMAIL.value: "firstname.middlename.lastname@engineering.subsidiary.example-company.com",
}


def growth(document: str, list_id: str) -> int:
    """Bytes the placeholders of ``document`` gain when a recipient's longest links replace them (escaped)."""
    extra = 0
    for placeholder, value in LONGEST.items():
        if count := document.count(placeholder):
            filled = html.escape(value.format(list_id=list_id or "digest-" + "x" * 40))
            extra += count * (len(filled.encode()) - len(placeholder))
    return extra


@dataclass
class GroupPlan:
    key: str  # high | medium | low
    anchor: str  # of this group in the web version
    total: int
    shown: list[str] = field(default_factory=list)  # item keys, in order
    shortened: int = 0  # shown with less than their whole card
    hidden: int = 0  # not shown (still rows of the commit table, or in the web version)


@dataclass
class RepoPlan:
    groups: list[GroupPlan]
    table: bool = True


@dataclass
class Plan:
    repos: list[RepoPlan]
    levels: dict[str, int]  # item key → level
    shed: list[str]  # what went, as "<phase>:<items>" and "commit-table:<repo>"

    @property
    def whole(self) -> bool:
        return not self.shed


def _items(view: IssueView) -> list[tuple[str, str]]:
    """(importance, item key) of every item, in the order the email shows them."""
    return [(imp.value, c.anchor) for r in view.repos for imp in IMPORTANCES for c in r.groups[imp.value]]


def _plan(view: IssueView, levels: dict[str, int], tables: dict[str, bool], shed: list[str]) -> Plan:
    repos = []
    for r in view.repos:
        groups = []
        for imp in IMPORTANCES:
            items = r.groups[imp.value]
            if not items:
                continue
            top = LADDERS[imp.value][0]
            g = GroupPlan(imp.value, f"{r.anchor}-{imp.value}", len(items))
            for c in items:
                level = levels[c.anchor]
                if level:
                    g.shown.append(c.anchor)
                    g.shortened += level < top
                else:
                    g.hidden += 1
            groups.append(g)
        repos.append(RepoPlan(groups, tables[r.anchor]))
    return Plan(repos, levels, shed)


def whole(view: IssueView) -> Plan:
    """Everything at its whole level: the web version, and the email of a day that fits."""
    levels = {key: LADDERS[imp][0] for imp, key in _items(view)}
    return _plan(view, levels, {r.anchor: True for r in view.repos}, [])


def choose(
    view: IssueView,
    size: Callable[[str, int], int],
    tables: dict[str, int],
    *,
    frame: int,
    link: int,
    budget: int,
) -> Plan:
    """The plan that fits ``budget`` bytes, shedding as little as the order allows.

    ``size(key, level)``: bytes of one item at one level (asked lazily, so only the levels a day needs are
    rendered); ``tables``: bytes of each repository's commit table; ``frame``: everything else as sent;
    ``link``: bytes of the sentence that replaces a table."""
    items = _items(view)
    levels = {key: LADDERS[imp][0] for imp, key in items}
    total = frame + sum(tables.values()) + sum(size(key, level) for key, level in levels.items())
    if total <= budget:
        return whole(view)
    target = budget - NOTE_ROOM * sum(len(r.groups) for r in view.repos if r.commits)
    steps = [(name, key, a, b) for name, imp, a, b in PHASES for i, key in reversed(items) if i == imp]

    def delta(key: str, before: int, after: int) -> int:
        return size(key, after) - size(key, before)

    # A card with no insights, risks or recommendations loses nothing without them: it stays whole, and is
    # not counted among the shortened (the renderer has both levels at hand, so asking costs nothing).
    steps = [step for step in steps if step[2:] != (3, 2) or delta(step[1], 3, 2)]

    # Items first, up to the detail of the high cards; then the commit tables; then what is left of the
    # high items' analysis, which goes last of all.
    first = next((n for n, step in enumerate(steps) if step[0] in LAST), len(steps))
    done = 0

    def shed_until(until: int) -> None:
        nonlocal total, done
        while total > target and done < until:
            _, key, before, after = steps[done]
            total += delta(key, before, after)
            levels[key] = after
            done += 1

    shed_until(first)
    kept = dict.fromkeys(tables, True)
    if total > target:
        for anchor in reversed(list(tables)):
            kept[anchor] = False
            total += link - tables[anchor]
            if total <= target:
                break
        shed_until(len(steps))
        while done:  # the room a table freed goes back to the items, last shed first
            _, key, before, after = steps[done - 1]
            grow = -delta(key, before, after)
            if total + grow > target:
                break
            total += grow
            levels[key] = before
            done -= 1
    counts: dict[str, int] = {}
    for name, *_ in steps[:done]:
        counts[name] = counts.get(name, 0) + 1
    shed = [f"{name}:{n}" for name, n in counts.items()]
    shed += [f"commit-table:{a}" for a, keep in kept.items() if not keep]
    return _plan(view, levels, kept, shed)
