"""Render time and size of busy days (run by hand: python bench/render.py [COMMITS ...] [--repeats N] [--node]).

For a synthetic analysed issue of each size (default 100 and 300 commits; 15% high, 40% medium): one whole
render_issue (the email within its budget, its web version, the text part and the Markdown), and its parts
timed alone — the view, the items' fragments (Jinja2 + css-inline, every item whole: what the web version
needs anyway), the one MJML compile of the frame with its inlining, the text part and the Markdown. Then the
email's size as sent against Gmail's clip, what was shed, and how many times the frame was compiled.
Targets: the whole render_issue (the email, its web version, the text part and the Markdown) in 50 ms at 100
commits and 150 ms at 300. Prints wall time and CPU time (medians): on a shared machine the CPU time is the
steadier one.

--node [DIR]: also compile the same MJML sources with Node's reference ``mjml`` (bench/mjml_node.js) and
print the ratio to mjml-python: the frame a render compiles, and the whole issue inside MJML (every item's
HTML in the frame, as a renderer that compiled everything in one pass would). DIR holds node_modules/mjml
(default bench/.node: ``npm install --prefix bench/.node --no-save mjml@4``; not a project dependency).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from markupsafe import Markup
from mjml import mjml2html

from newsletter.render import budget, email
from newsletter.render.markdown import render_markdown
from newsletter.render.text import render_text
from newsletter.render.view import build_view
from newsletter.samples.synthetic import busy_issue

ROOT = Path(__file__).resolve().parents[1]
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
    node: Path | None = None
    if "--node" in args:
        at = args.index("--node")
        given = args[at + 1] if at + 1 < len(args) and not args[at + 1].isdigit() else None
        node = Path(given) if given else ROOT / "bench" / ".node"
        del args[at : at + (2 if given else 1)]
        if not (node / "node_modules" / "mjml").is_dir():
            sys.exit(f"no mjml under {node}/node_modules: npm install --prefix {node} --no-save mjml@4")
    sizes = [int(a) for a in args] or [100, 300]
    for commits in sizes:
        bench(commits, repeats)
        if node is not None:
            compare_node(commits, repeats, node)


def sources(commits: int) -> dict[str, str]:
    """The MJML both compilers get: the frame as a render compiles it, and the whole issue inside MJML."""
    view, t = build_view(busy_issue(commits))
    whole = budget.whole(view)
    template = email._env().get_template("issue.mjml.j2")
    frame = template.render(v=view, t=t, plan=whole, slot=lambda key: Markup(f"@@slot:{key}@@"))
    macros = email._macros(view.language)
    raw = {c.anchor: str(macros.card(c, 3)) for r in view.repos for g in r.groups.values() for c in g}  # type: ignore[attr-defined]
    raw |= {f"commits:{r.anchor}": str(macros.table(r)) for r in view.repos}  # type: ignore[attr-defined]
    inside = template.render(v=view, t=t, plan=whole, slot=lambda key: Markup(raw.get(key, "")))
    return {"frame (what a render compiles)": frame, "whole issue inside MJML": inside}


def compare_node(commits: int, repeats: int, node: Path) -> None:
    print(f"  MJML compile, same source: mjml-python (MRML) vs Node's mjml (CPU medians of {repeats})")
    env = {**os.environ, "NODE_PATH": str(node / "node_modules")}
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for label, source in sources(commits).items():
            files[label] = Path(tmp) / f"{len(files)}.mjml"
            files[label].write_text(source, "utf-8")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(["node", "-e", "require('mjml')"], env=env, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000
        script = str(ROOT / "bench" / "mjml_node.js")
        done = subprocess.run(
            ["node", script, str(repeats), *map(str, files.values())], env=env, check=True, capture_output=True
        )
        report = json.loads(done.stdout)
        for label, path in files.items():
            source = path.read_text("utf-8")
            _, ours, _ = timed(lambda source=source: mjml2html(source, disable_comments=True, fonts={}), repeats)
            theirs = report["medians"][str(path)]
            print(
                f"    {label:<34} {len(source.encode()):9,} bytes  {ours:7.1f} ms vs {theirs:7.1f} ms"
                f"  (Node mjml {report['version']}: {theirs / ours:5.1f}x)"
            )
        print(f"    {'node start + require(mjml)':<34} {'':15}  {'':10}    {start:7.1f} ms  (once per Node process)")


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
    verdict = f"target {target:.0f} ms: {'met' if total_c <= target else 'MISSED'} (cpu)" if target else ""
    line("render_issue, whole", total_w, total_c, verdict)
    line("the email alone (render_email: all but Markdown)", email_w, email_c)
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
