"""Render time and size of busy days (run by hand: python bench/render.py [COMMITS ...] [--repeats N]).

For a synthetic analysed issue of each size (default 100 and 300 commits; 15% high, 40% medium): one whole
render_issue (the email within its budget, its web version, the text part and the Markdown), and its parts
timed alone — the view, the items' fragments (Jinja2 + css-inline, every item whole: what the web version
needs anyway), the one MJML compile of the frame with its inlining, the text part and the Markdown. Then the
email's size as sent against Gmail's clip, what was shed, and how many times the frame was compiled.
Targets: the email (everything but the Markdown, which only the archive uses) in 50 ms at 100 commits and
150 ms at 300. Prints wall time and CPU time (medians): on a shared machine the CPU time is the steadier one.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mjml import mjml2html

from newsletter.render import budget, email
from newsletter.render.markdown import render_markdown
from newsletter.render.text import render_text
from newsletter.render.view import build_view
from newsletter.samples.synthetic import busy_issue

GMAIL_CLIP = 102_000
TARGETS = {100: 50.0, 300: 150.0}


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """Median wall and CPU milliseconds of ``repeats`` calls (after one warm-up), and the last result."""
    result = fn()
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        wall.append((time.perf_counter() - w) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return statistics.median(wall), statistics.median(cpu), result


def frame_compiles(issue: object) -> int:
    """How many times render_issue compiles the MJML frame (counted by wrapping mjml2html)."""
    calls = 0
    original = email.mjml2html

    def counting(*args: object, **kwargs: object) -> str:
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)  # type: ignore[arg-type]

    email.mjml2html = counting  # type: ignore[assignment]
    try:
        email.render_issue(issue)  # type: ignore[arg-type]
    finally:
        email.mjml2html = original  # type: ignore[assignment]
    return calls


def line(label: str, wall: float, cpu: float, note: str = "") -> None:
    print(f"  {label:<44} {wall:8.1f} ms wall {cpu:8.1f} ms cpu  {note}")


def main() -> None:
    args = sys.argv[1:]
    repeats = 7
    if "--repeats" in args:
        at = args.index("--repeats")
        repeats = int(args[at + 1])
        del args[at : at + 2]
    sizes = [int(a) for a in args] or [100, 300]
    for commits in sizes:
        bench(commits, repeats)


def bench(commits: int, repeats: int) -> None:
    issue = busy_issue(commits)
    view, t = build_view(issue)
    whole = budget.whole(view)

    print(f"issue: {commits} commits, median of {repeats} runs")
    total_w, total_c, rendered = timed(lambda: email.render_issue(issue), repeats)
    email_w, email_c, _ = timed(lambda: email.render_email(issue), repeats)
    md_w, md_c, _ = timed(lambda: render_markdown(issue), repeats)
    view_w, view_c, _ = timed(lambda: build_view(issue), repeats)

    def fragments() -> object:
        f = email._Fragments(view)
        for c in view.repos[0].commits:
            f.get(c.anchor, budget.LADDERS[c.importance][0])
        return f

    frag_w, frag_c, _ = timed(fragments, repeats)
    frame_w, frame_c, _ = timed(lambda: email._document(view, t), repeats)
    mjml_src = email._env().get_template("issue.mjml.j2").render(v=view, t=t, plan=whole, slot=lambda key: "")
    mjml_w, mjml_c, _ = timed(lambda: mjml2html(mjml_src, disable_comments=True, fonts={}), repeats)
    text_w, text_c, _ = timed(lambda: render_text(view, t, whole), repeats)

    target = TARGETS.get(commits)
    verdict = f"target {target:.0f} ms: {'met' if email_c <= target else 'MISSED'} (cpu)" if target else ""
    line("render_issue, whole", total_w, total_c)
    line("the email alone (render_email: all but Markdown)", email_w, email_c, verdict)
    line("  Markdown (archive only)", md_w, md_c)
    line("view (build_view)", view_w, view_c)
    line("every item whole (Jinja2 + css-inline)", frag_w, frag_c)
    line("frame: Jinja2 + MJML + css-inline", frame_w, frame_c, "(once per render: web version and email)")
    line("  of which mjml2html", mjml_w, mjml_c)
    line("text part, every item whole", text_w, text_c)
    sent = len(rendered.html.encode()) + budget.growth(rendered.html, issue.list_id or "")  # type: ignore[attr-defined]
    web = len(rendered.web_html.encode())  # type: ignore[attr-defined]
    print(f"  frame compiles per render: {frame_compiles(issue)} (one: the web version and the email fill it)")
    print(f"  email HTML as sent (longest links)   {sent:9,} bytes ({sent / GMAIL_CLIP:.2f} x Gmail's clip)")
    print(f"  web version                          {web:9,} bytes (never shed)")
    print(f"  text part                            {len(rendered.text.encode()):9,} bytes")  # type: ignore[attr-defined]
    print(f"  shed: {', '.join(rendered.shed) or 'nothing'}")  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
