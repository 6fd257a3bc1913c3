"""Templates: shipped from the top-level templates/ folder (inside the wheel as newsletter/templates/), and a
deployment's NEWSLETTER_TEMPLATES_DIR replaces shipped files of the same name. The override is read once per
process, so these tests start the real command in a child process, as a deployment would."""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run_sample(env_extra: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSLETTER_", "GITHUB_", "OPENAI_", "AWS_"))}
    env |= {
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_LISTS_DIR": str(tmp_path / "no-lists"),
        "GITHUB_API_URL": "http://127.0.0.1:9",  # the sample never asks GitHub; nothing listens there
        **env_extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "newsletter", "run", "--sample"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_deployment_replaces_one_shipped_template_and_keeps_the_rest(tmp_path: Path) -> None:
    own = tmp_path / "own-templates"
    footer = (ROOT / "templates" / "email" / "_footer.mjml.j2").read_text()
    marker = "Brought to you by the Widgets team"
    (own / "email").mkdir(parents=True)
    (own / "email" / "_footer.mjml.j2").write_text(footer.replace("</mj-text>", f"<p>{marker}</p>\n</mj-text>"))

    result = _run_sample({"NEWSLETTER_TEMPLATES_DIR": str(own)}, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    (eml,) = (tmp_path / "data" / "outbox").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    html = message.get_body(("html",)).get_content()
    assert marker in html
    assert "Sample Reader" in message["To"] and "<mjml" not in html  # the rest still comes from the shipped files


def test_without_an_override_the_shipped_footer_is_used(tmp_path: Path) -> None:
    result = _run_sample({}, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    (eml,) = (tmp_path / "data" / "outbox").glob("*.eml")
    html = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default).get_body(("html",)).get_content()
    assert "Brought to you by the Widgets team" not in html


def test_an_override_that_is_not_a_folder_is_one_line(tmp_path: Path) -> None:
    result = _run_sample({"NEWSLETTER_TEMPLATES_DIR": str(tmp_path / "missing")}, tmp_path)
    assert result.returncode != 0
    assert "NEWSLETTER_TEMPLATES_DIR" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_every_package_and_the_templates_ship_in_the_wheel() -> None:
    """pyproject lists the packages by name (the templates package maps to the top-level folder, which
    setuptools' package discovery cannot combine with): a new subpackage missing there would be left out of
    the wheel and of the Lambda bundle built from it."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "newsletter").rglob("__init__.py")}
    missing = on_disk - set(setuptools["packages"])
    assert not missing, f"add {sorted(missing)} to [tool.setuptools] packages in pyproject.toml"
    assert set(setuptools["packages"]) == on_disk | {"newsletter.templates"}
    assert setuptools["package-dir"]["newsletter.templates"] == "templates"
    assert (ROOT / "templates" / "email" / "issue.mjml.j2").is_file()


def test_compiled_templates_are_kept_between_runs_and_compiled_again_when_they_change(tmp_path: Path) -> None:
    own = tmp_path / "own-templates"
    (own / "text").mkdir(parents=True)
    probe = own / "text" / "probe.txt.j2"
    probe.write_text("{% if true %}\n  kept\n{% endif %}\n")
    script = (
        "import sys\nfrom newsletter import template_files\n"
        "options = dict(trim_blocks=True, lstrip_blocks=True) if sys.argv[1] == 'trimmed' else {}\n"
        "print(repr(template_files.environment('text', **options).get_template('probe.txt.j2').render()))"
    )
    env = {**os.environ, "NEWSLETTER_TEMPLATES_DIR": str(own), "TMPDIR": str(tmp_path)}

    def render(options: str) -> str:
        command = [sys.executable, "-c", script, options]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert render("plain") == repr("\n  kept\n")
    assert list(tmp_path.glob("_jinja2-cache-*/*.cache"))  # compiled once, kept for the next run
    assert render("plain") == repr("\n  kept\n")
    assert render("trimmed") == repr("  kept\n")  # other options: compiled for them, not the plain run's code
    probe.write_text("changed\n")
    assert render("plain") == repr("changed")
