"""Render time and HTML size of a busy day (run by hand: python bench/render.py [COMMITS] [REPEATS]).

Prints, for a synthetic analysed issue of COMMITS commits (default 100): Jinja2 time, MJML compile time
(mjml-python), minify time, one full render_issue (every shedding pass, the text and Markdown twins), and
the HTML size before and after shedding against the 100,000-byte budget and Gmail's ~102 KB clip.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mjml import mjml2html

from newsletter.render import email
from newsletter.render.view import build_view
from newsletter.samples.synthetic import busy_issue

GMAIL_CLIP = 102_000


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median milliseconds of ``repeats`` calls (after one warm-up), and the last result."""
    result = fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs), result


def main() -> None:
    commits = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    issue = busy_issue(commits)
    view, t = build_view(issue)
    full = email.Detail()

    jinja_ms, mjml_src = timed(lambda: email._template.render(v=view, t=t, d=full), repeats)
    mjml_ms, raw = timed(lambda: mjml2html(mjml_src, disable_comments=True, fonts={}), repeats)
    minify_ms, whole = timed(lambda: email.minify(raw), repeats)
    total_ms, rendered = timed(lambda: email.render_issue(issue), repeats)

    before = len(whole.encode())
    after = rendered.html_bytes
    print(f"issue: {commits} commits, median of {repeats} runs")
    print(f"  jinja2 (MJML source, {len(mjml_src.encode()):,} bytes)  {jinja_ms:8.1f} ms")
    print(f"  mjml2html                                {mjml_ms:8.1f} ms   ({mjml_ms / 100:.2f} x 100 ms)")
    print(f"  minify                                   {minify_ms:8.1f} ms")
    print(f"  render_issue total (all passes + twins)  {total_ms:8.1f} ms   ({len(rendered.shed) + 1} HTML passes)")
    print(f"  HTML unminified                          {len(raw.encode()):8,} bytes")
    print(f"  HTML before shedding (minified)          {before:8,} bytes   ({before / GMAIL_CLIP:.2f} x Gmail's clip)")
    print(f"  HTML after shedding                      {after:8,} bytes   ({after / GMAIL_CLIP:.2f} x Gmail's clip)")
    print(f"  shed: {', '.join(rendered.shed) or 'nothing'}")
    print(f"  text part {len(rendered.text.encode()):,} bytes, markdown part {len(rendered.markdown.encode()):,} bytes")


if __name__ == "__main__":
    main()
