"""The README's screenshots, made by the headless Chromium the tests drive (tests/browser.py); run by hand:

    .venv/bin/python scripts/screenshots.py [--out docs/img]

The real day shipped in the package (sgl-project/sglang on 2026-01-13) through the heuristic analyzer, as
`newsletter run --sample` mails it: the email on a phone (375 px) and a desktop (1200 px), light and dark, in
English and Chinese; and the web archive's page of the list. Only the top of each page is
kept, at a reduced scale for the desktop, so the PNGs stay small.
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from newsletter.archive import LocalArchive
from newsletter.render.email import render_issue
from tests.browser import Browser, chromium_path
from tests.test_render_browser import sample_issue

SHOTS = [  # (file name, page, width, dark, height kept, scale)
    ("email-phone-light.png", "email-en", 375, False, 1500, 1.0),
    ("email-phone-dark.png", "email-en", 375, True, 1500, 1.0),
    ("email-desktop-light.png", "email-en", 1200, False, 1300, 0.6),
    ("email-desktop-dark.png", "email-en", 1200, True, 1300, 0.6),
    ("email-phone-zh-light.png", "email-zh-CN", 375, False, 1500, 1.0),
    ("email-phone-zh-dark.png", "email-zh-CN", 375, True, 1500, 1.0),
    ("archive-list.png", "list", 1200, False, 340, 0.6),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args()
    executable = chromium_path()
    if executable is None:
        sys.exit("chromium is not installed")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pages = {}
        for language in ("en", "zh-CN"):
            issue = sample_issue(language).model_copy(
                update={
                    "title": "SGLang daily" if language == "en" else "SGLang 每日提交简报",
                    "list_id": f"sglang-{language.lower()}",
                    "postal_address": "Example Org, 1 Market Street, Springfield 12345",
                    "generated_at": datetime(2026, 1, 14, 0, 30, tzinfo=UTC),
                }
            )
            rendered = render_issue(issue)
            pages[f"email-{language}"] = folder / f"email-{language}.html"
            pages[f"email-{language}"].write_text(rendered.html, encoding="utf-8")
            archive = LocalArchive(folder / "archive")
            archive.publish(issue, rendered)
            if language == "en":
                pages["list"] = folder / "archive" / str(issue.list_id) / "index.html"
        browser = Browser(executable, folder / "profile")
        try:
            for name, page, width, dark, height, scale in SHOTS:
                browser.open(pages[page], width=width, dark=dark)
                full = browser.send("Page.getLayoutMetrics")["cssContentSize"]["height"]
                clip = {"x": 0, "y": 0, "width": width, "height": min(height, full), "scale": scale}
                shot = browser.send("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip)
                (args.out / name).write_bytes(base64.b64decode(shot["data"]))
                print(args.out / name)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
