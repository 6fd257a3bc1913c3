"""How well the analysis agrees with careful human labels. Run by hand from the repository root:

    .venv/bin/python bench/quality.py [--analyzer heuristic|llm] [--lang en|zh-CN]
                                      [--labels ../shared/labels/dev.jsonl]
                                      [--fixtures ../shared/fixtures/github] [--verbose]

With a model (any OpenAI-compatible server: vLLM, SGLang, Ollama, OpenAI):

    OPENAI_BASE_URL=http://localhost:8000/v1 OPENAI_API_KEY=anything NEWSLETTER_MODEL=Qwen/Qwen3-8B \
        .venv/bin/python bench/quality.py --analyzer llm [--lang zh-CN]

prints the same agreement figures, then what the model cost (calls, tokens, estimated cost, commits that
fell back to the heuristic) and what the checks of its answers did (figures dropped as ungrounded, language
retries, corrections by the facts). Every commit goes to the model (NEWSLETTER_TRIAGE=0), and answers are
cached in a temporary folder only, so each run asks again.

For every labelled day it serves the fixture folder through the fake GitHub (tests/fakes/github.py) on
loopback, collects the day with the project's own collect code, builds the Issue with the chosen analyzer
(``llm`` needs OPENAI_API_KEY / OPENAI_BASE_URL, as ``newsletter build --analyzer llm`` does) and compares:

- importance: weighted Cohen's kappa (linear weights; quadratic in brackets), exact agreement, high↔low
  confusions;
- change type: accuracy;
- threads: pair-F1 (two commits of one labelled series = a gold pair; two commits of one thread of
  ``repos[].threads[]`` = a predicted pair).

Overall and per day. ``--verbose`` lists every disagreement.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newsletter.collect import CollectOptions, collect_repos  # noqa: E402
from newsletter.config import Settings  # noqa: E402
from newsletter.issue import Issue  # noqa: E402
from newsletter.models import Importance, RepoSpec, Usage, Window  # noqa: E402
from newsletter.pipeline import build_issue  # noqa: E402
from newsletter.store.sqlite import SqliteStore  # noqa: E402
from tests.fakes.github import FakeGitHub  # noqa: E402

LEVELS = ["low", "medium", "high"]
CHECKED = ("figures_dropped", "language_retries", "corrections")  # what the checks of the answers changed
# ../shared beside the main checkout; a worktree under /work/wt/<name> has it two levels up.
SHARED = next(
    (p / "shared" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared").is_dir()), ROOT.parent / "shared"
)


@dataclass
class Label:
    day: str
    sha: str
    importance: str
    change_type: str
    series: str | None


@dataclass
class Predicted:
    importance: str
    change_type: str
    title: str


@dataclass
class DayResult:
    day: str
    gold: list[Label]
    predicted: dict[str, Predicted]
    threads: list[list[str]] = field(default_factory=list)


def load_labels(path: Path) -> dict[str, list[Label]]:
    days: dict[str, list[Label]] = defaultdict(list)
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            days[row["day"]].append(
                Label(row["day"], row["sha"], row["importance"], row["change_type"], row.get("series"))
            )
    return days


def build_day(case: Path, analyzer: str, folder: Path, language: str = "en") -> Issue:
    """The day of ``case`` as ``newsletter build`` would make it, every commit kept (no importance floor)."""
    meta = json.loads((case / "case.json").read_text())
    with FakeGitHub(case) as fake:
        env = {"NEWSLETTER_TRIAGE": "0", **os.environ, **fake.env(), "NEWSLETTER_DATA_DIR": str(folder)}
        settings = Settings.from_env(env)
        store = SqliteStore(folder / f"{case.name}.db")
        window = Window.for_day(date.fromisoformat(meta["date"]), meta["tz"])
        spec = RepoSpec.parse(f"{meta['repo']}@{meta['branch']}")
        repos = collect_repos([spec], window, settings=settings, cache=store, options=CollectOptions())
        return build_issue(
            repos,
            language=language,
            settings=settings,
            store=store,
            analyzer_choice=analyzer,
            min_importance=Importance.LOW,
        )


def predictions(issue: Issue) -> tuple[dict[str, Predicted], list[list[str]]]:
    predicted = {}
    threads: list[list[str]] = []
    for repo in issue.repos:
        for item in repo.commits:
            predicted[item.commit.sha] = Predicted(
                str(item.analysis.importance), str(item.analysis.change_type), item.commit.title
            )
        # Before threads existed the Issue had none: every commit is its own change.
        threads += [list(thread.shas) for thread in getattr(repo, "threads", [])]
    return predicted, threads


def weighted_kappa(pairs: Sequence[tuple[str, str]], power: int = 1) -> float:
    n = len(pairs)
    if not n:
        return float("nan")
    k = len(LEVELS)
    index = {level: i for i, level in enumerate(LEVELS)}
    observed = [[0.0] * k for _ in range(k)]
    for gold, pred in pairs:
        observed[index[gold]][index[pred]] += 1
    rows = [sum(observed[i]) for i in range(k)]
    cols = [sum(observed[i][j] for i in range(k)) for j in range(k)]
    disagreement = expected = 0.0
    for i in range(k):
        for j in range(k):
            weight = (abs(i - j) / (k - 1)) ** power
            disagreement += weight * observed[i][j]
            expected += weight * rows[i] * cols[j] / n
    return 1.0 - disagreement / expected if expected else 1.0


def pairs_of(groups: Iterable[Iterable[str]], universe: set[str]) -> set[frozenset[str]]:
    found: set[frozenset[str]] = set()
    for group in groups:
        members = sorted(set(group) & universe)
        found |= {frozenset(pair) for pair in combinations(members, 2)}
    return found


def thread_f1(results: Sequence[DayResult]) -> tuple[float, float, float]:
    gold: set[frozenset[str]] = set()
    predicted: set[frozenset[str]] = set()
    for result in results:
        universe = {label.sha for label in result.gold}
        series: dict[str, list[str]] = defaultdict(list)
        for label in result.gold:
            if label.series:
                series[label.series].append(label.sha)
        gold |= pairs_of(series.values(), universe)
        predicted |= pairs_of(result.threads, universe)
    hits = len(gold & predicted)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def report(name: str, results: Sequence[DayResult]) -> str:
    importance_pairs = []
    types = []
    high_low = 0
    missing = 0
    for result in results:
        for label in result.gold:
            pred = result.predicted.get(label.sha)
            if pred is None:
                missing += 1
                continue
            importance_pairs.append((label.importance, pred.importance))
            types.append(label.change_type == pred.change_type)
            high_low += {label.importance, pred.importance} == {"high", "low"}
    n = len(importance_pairs)
    exact = sum(g == p for g, p in importance_pairs) / n if n else float("nan")
    precision, recall, f1 = thread_f1(results)
    return (
        f"{name:<24} n={n:<3} kappa={weighted_kappa(importance_pairs):5.2f} "
        f"({weighted_kappa(importance_pairs, 2):4.2f}) exact={exact:4.0%} high<->low={high_low:<2} "
        f"type={sum(types) / n if n else 0:4.0%} thread-F1={f1:4.2f} (P {precision:.2f} R {recall:.2f})"
        + (f" missing={missing}" if missing else "")
    )


def disagreements(result: DayResult) -> list[str]:
    lines = []
    thread_of = {sha: i for i, shas in enumerate(result.threads) for sha in shas}
    for label in result.gold:
        pred = result.predicted.get(label.sha)
        if pred is None:
            lines.append(f"  {label.sha[:7]} not in the issue")
            continue
        marks = []
        if pred.importance != label.importance:
            marks.append(f"importance {pred.importance} (gold {label.importance})")
        if pred.change_type != label.change_type:
            marks.append(f"type {pred.change_type} (gold {label.change_type})")
        if marks:
            thread = thread_of.get(label.sha)
            where = f" [thread {thread}]" if thread is not None else ""
            lines.append(f"  {label.sha[:7]} {pred.title[:70]!r}{where}: " + "; ".join(marks))
    return lines


def spending(usages: Sequence[Usage]) -> str:
    """What the model cost over the run and what the checks of its answers changed."""
    total = Usage()
    for usage in usages:
        for name in ("llm_calls", "heuristic", "tokens_in", "tokens_out", "cost_usd", *CHECKED):
            setattr(total, name, getattr(total, name) + getattr(usage, name))
    model = next((u.model for u in usages if u.model), None)
    return (
        f"model: {model} · {total.llm_calls} calls · {total.tokens_in:,} tokens in / {total.tokens_out:,} out · "
        f"~${total.cost_usd:.4f} · {total.heuristic} commits fell back to the heuristic\n"
        f"grounding: {total.figures_dropped} figures dropped · {total.language_retries} language retries · "
        f"{total.corrections} corrections"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--analyzer", choices=["heuristic", "llm"], default="heuristic")
    parser.add_argument("--lang", choices=["en", "zh-CN"], default="en", help="the language the analyses are in")
    parser.add_argument("--labels", type=Path, default=SHARED / "labels" / "dev.jsonl")
    parser.add_argument("--fixtures", type=Path, default=SHARED / "fixtures" / "github")
    parser.add_argument("--verbose", action="store_true", help="list every disagreement")
    args = parser.parse_args(argv)
    if not args.labels.is_file():
        parser.error(f"no labels at {args.labels} (pass --labels)")
    if args.analyzer == "llm" and not os.environ.get("OPENAI_API_KEY"):
        parser.error("--analyzer llm needs OPENAI_API_KEY (any value for a server without keys) and OPENAI_BASE_URL")
    days = load_labels(args.labels)
    results = []
    usages = []
    with tempfile.TemporaryDirectory() as tmp:
        for day, gold in sorted(days.items()):
            case = args.fixtures / day
            if not (case / "case.json").is_file():
                parser.error(f"no fixture folder {case} for the labelled day {day} (pass --fixtures)")
            issue = build_day(case, args.analyzer, Path(tmp), args.lang)
            predicted, threads = predictions(issue)
            results.append(DayResult(day, gold, predicted, threads))
            usages.append(issue.usage)
    print(f"analyzer: {args.analyzer}; language: {args.lang}; labels: {args.labels}")
    print(report("overall", results))
    for result in results:
        print(report(result.day, [result]))
        if args.verbose:
            print("\n".join(disagreements(result)))
    if args.analyzer == "llm":
        print(spending(usages))


if __name__ == "__main__":
    main()
