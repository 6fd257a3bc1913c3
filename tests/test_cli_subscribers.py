"""`newsletter lists`, `newsletter subscribers …` and `newsletter store init`, on both backends, through the
real CLI: successes print what happened; every failure is one line, a non-zero exit, and changes nothing."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from newsletter.cli import app
from newsletter.store.base import MemberStatus
from newsletter.subscriptions import Tokens
from tests.stores import Store

SECRET = "test-Qm7Vx2Lp9Rk4Tz8Wn3Bc6Hj1Fd5Gs0Ya-not-for-production"  # tests/conftest.py sets it as NEWSLETTER_SECRET


@pytest.fixture
def store(store_env: dict[str, Any], make_store: Callable[..., Store]) -> Store:
    """The store the CLI uses in this test (real clock: the CLI runs on the real one)."""
    from newsletter.store.common import utcnow

    return make_store(clock=utcnow)


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def snapshot(store: Store, *emails: str) -> Any:
    return (
        [m.model_dump() for m in store.members("sglang")],
        store.count_members("sglang"),
        [store.person(e) for e in emails],
    )


def assert_one_line_failure(result: Result, *fragments: str) -> None:
    assert result.exit_code != 0, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


def write_csv(path: Path, text: str, *, bom: bool = False, encoding: str = "utf-8") -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


# --- happy paths --------------------------------------------------------------------------------------


def test_store_init_and_lists(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # Rich folds cells to the terminal's width
    first = run("store", "init")
    assert first.exit_code == 0 and "ready:" in first.stdout
    assert run("store", "init").exit_code == 0  # idempotent
    store.add_members([("a@example.com", None)], "sglang", status=MemberStatus.ACTIVE, source="t")
    listed = run("lists")
    assert listed.exit_code == 0
    assert "sglang" in listed.stdout and "sgl-project/sglang" in listed.stdout


def test_add_confirm_unsubscribe_through_the_cli(store: Store) -> None:
    added = run("subscribers", "add", "Ada@Example.com", "--list", "sglang", "--name", "Ada")
    assert added.exit_code == 0, added.output
    assert "ada@example.com is now pending on sglang" in added.stdout
    token = added.stdout.split("newsletter subscribers confirm ")[1].split()[0]
    confirmed = run("subscribers", "confirm", token)
    assert confirmed.exit_code == 0 and "ada@example.com confirmed on sglang" in confirmed.stdout
    assert [r.email for r in store.active_recipients("sglang")] == ["ada@example.com"]
    shown = run("subscribers", "ls", "--list", "sglang", "--status", "active")
    assert "ada@example.com" in shown.stdout and "Ada" in shown.stdout
    for _ in range(2):
        gone = run("subscribers", "unsubscribe", "ada@example.com", "--list", "sglang")
        assert gone.exit_code == 0
    assert "already unsubscribed" in gone.stdout
    assert list(store.active_recipients("sglang")) == []


def test_import_reports_lines_and_is_idempotent(store: Store, tmp_path: Path) -> None:
    file = write_csv(
        tmp_path / "people.csv",
        "Email,Name\r\nada@example.com,Ada\r\nnot-an-address,X\r\n\r\nBOB@example.com,\r\nada@example.com,Again\r\n"
        '"carol@example.com","Carol, PhD"\r\n,empty\r\n',
        bom=True,
    )
    first = run("subscribers", "import", str(file), "--list", "sglang", "--confirmed")
    assert first.exit_code == 0, first.output
    assert "line 3: invalid address 'not-an-address'" in first.stdout
    assert "line 8: invalid address ''" in first.stdout
    assert "6 rows: 3 added as active, 1 already present, 2 invalid, 0 suppressed" in first.stdout
    people = {m.email: m for m in store.members("sglang")}
    assert sorted(people) == ["ada@example.com", "bob@example.com", "carol@example.com"]
    assert people["carol@example.com"].name == "Carol, PhD" and people["ada@example.com"].name == "Ada"
    assert people["bob@example.com"].source == "import:people.csv"
    before = snapshot(store, "ada@example.com")
    second = run("subscribers", "import", str(file), "--list", "sglang", "--confirmed")
    assert "6 rows: 0 added as active, 4 already present, 2 invalid" in second.stdout
    assert snapshot(store, "ada@example.com") == before


def test_import_names_the_first_line_of_each_suppressed_address(store: Store, tmp_path: Path) -> None:
    store.suppress("spam@example.com", "complained", "ses")
    rows = "".join(f"reader{i}@example.com,R{i}\r\n" for i in range(5))
    file = write_csv(tmp_path / "people.csv", f"email,name\r\n{rows}SPAM@example.com,S\r\nspam@example.com,S\r\n")
    result = run("subscribers", "import", str(file), "--list", "sglang", "--confirmed")
    assert result.exit_code == 0, result.output
    assert "line 7: suppressed address, skipped" in result.stdout and "line 8" not in result.stdout
    assert "7 rows: 5 added as active, 1 already present, 0 invalid, 1 suppressed" in result.stdout
    assert store.get_member("spam@example.com", "sglang") is None


def test_export_neutralises_formulas_and_imports_again(store: Store, tmp_path: Path) -> None:
    rows = [("-2+3@example.com", '=HYPERLINK("http://evil")'), ("ada@example.com", "@Ada"), ("b@example.com", "+1")]
    store.add_members(rows, "sglang", status=MemberStatus.ACTIVE, source="t")
    exported = run("subscribers", "export", "--list", "sglang")
    assert exported.exit_code == 0 and "exported 3 members" in exported.stderr
    table = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(r["email"], r["name"]) for r in table] == [
        ("'-2+3@example.com", '\'=HYPERLINK("http://evil")'),
        ("ada@example.com", "'@Ada"),
        ("b@example.com", "'+1"),
    ]
    out = tmp_path / "out.csv"
    assert run("subscribers", "export", "--list", "sglang", "--out", str(out)).exit_code == 0
    assert out.read_text(encoding="utf-8") == exported.stdout
    again = run("subscribers", "import", str(out), "--list", "sglang")
    assert "3 rows: 0 added as pending, 3 already present, 0 invalid" in again.stdout
    # Removed, then imported from the export: every neutralised column comes back as it was, names included.
    for email, _ in rows:
        assert run("subscribers", "remove", "--list", "sglang", "--", email).exit_code == 0
    back = run("subscribers", "import", str(out), "--list", "sglang", "--confirmed")
    assert "3 rows: 3 added as active" in back.stdout, back.output
    assert sorted((m.email, m.name) for m in store.members("sglang")) == sorted(rows)


def test_suppress_and_forget(store: Store, tmp_path: Path) -> None:
    store.add_members([("ada@example.com", "Ada")], "sglang", status=MemberStatus.ACTIVE, source="t")
    suppressed = run("subscribers", "suppress", "ada@example.com", "--reason", "complained")
    assert suppressed.exit_code == 0 and list(store.active_recipients("sglang")) == []
    refused = run("subscribers", "add", "ada@example.com", "--list", "sglang")
    assert_one_line_failure(refused, "suppressed (complained", "--override")
    export = tmp_path / "ada.json"
    forgotten = run("subscribers", "forget", "ada@example.com", "--out", str(export))
    assert forgotten.exit_code == 0, forgotten.output
    data = json.loads(export.read_text(encoding="utf-8"))
    assert data["profile"]["name"] == "Ada" and data["memberships"][0]["status"] == "active"
    assert store.person("ada@example.com")["memberships"] == []
    on_stdout = run("subscribers", "forget", "ada@example.com")
    assert json.loads(on_stdout.stdout)["memberships"] == []


def test_remove(store: Store) -> None:
    store.add_members([("ada@example.com", None)], "sglang", status=MemberStatus.ACTIVE, source="t")
    assert "removed ada@example.com" in run("subscribers", "remove", "ada@example.com", "--list", "sglang").stdout
    assert "was not on sglang" in run("subscribers", "remove", "ada@example.com", "--list", "sglang").stdout
    assert store.get_member("ada@example.com", "sglang") is None


# --- failures: one line, non-zero, nothing changed ----------------------------------------------------


def test_tampered_token(store: Store) -> None:
    added = run("subscribers", "add", "ada@example.com", "--list", "sglang")
    token = added.stdout.split("newsletter subscribers confirm ")[1].split()[0]
    before = snapshot(store, "ada@example.com")
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert_one_line_failure(run("subscribers", "confirm", tampered), "damaged or was not issued by us")
    assert snapshot(store, "ada@example.com") == before
    assert store.get_member("ada@example.com", "sglang").status == MemberStatus.PENDING  # type: ignore[union-attr]


def test_expired_confirmation(store: Store) -> None:
    run("subscribers", "add", "ada@example.com", "--list", "sglang")
    eight_days_ago = Tokens(SECRET, clock=lambda: time.time() - 8 * 86400)
    token = eight_days_ago.make("confirm", "ada@example.com", "sglang")
    before = snapshot(store, "ada@example.com")
    assert_one_line_failure(run("subscribers", "confirm", token), "confirmation link expired on", "subscribe again")
    assert snapshot(store, "ada@example.com") == before


def test_unknown_list(store: Store, tmp_path: Path) -> None:
    file = write_csv(tmp_path / "ok.csv", "email\nada@example.com\n")
    for args in (
        ("subscribers", "add", "ada@example.com", "--list", "nope"),
        ("subscribers", "import", str(file), "--list", "nope"),
        ("subscribers", "ls", "--list", "nope"),
        ("subscribers", "export", "--list", "nope"),
    ):
        assert_one_line_failure(run(*args), "unknown list 'nope'", "known lists: sglang")
    assert store.person("ada@example.com")["memberships"] == []
    assert list(store.members("nope")) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,e-mail\nAda,ada@example.com\n", "line 1: no 'email' column"),
        ("ada@example.com\nbob@example.com\n", "line 1: no 'email' column"),
        ("", "the file is empty"),
        ('email,name\nada@example.com,Ada\nbob@example.com,"Bob\n', "not valid CSV"),
        ("email,name\nada@example.com,Ada\nbob@example.com,Bj\xf6rn\n", "not UTF-8"),
    ],
)
def test_malformed_csv_changes_nothing(store: Store, tmp_path: Path, content: str, message: str) -> None:
    encoding = "latin-1" if "\xf6" in content else "utf-8"
    file = write_csv(tmp_path / "bad.csv", content, encoding=encoding)
    before = snapshot(store, "ada@example.com")
    assert_one_line_failure(run("subscribers", "import", str(file), "--list", "sglang"), str(file), message)
    assert snapshot(store, "ada@example.com") == before
    assert before[1] == {s: 0 for s in MemberStatus}


def test_missing_file_and_bad_input(store: Store, tmp_path: Path) -> None:
    assert_one_line_failure(
        run("subscribers", "import", str(tmp_path / "missing.csv"), "--list", "sglang"), "cannot read"
    )
    assert_one_line_failure(run("subscribers", "add", "not-an-address", "--list", "sglang"), "invalid address")
    assert_one_line_failure(run("subscribers", "suppress", "a@example.com", "--reason", "bored"), "unknown suppression")
    assert store.person("a@example.com")["suppression"] is None


def test_missing_secret(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_SECRET")
    assert_one_line_failure(run("subscribers", "add", "ada@example.com", "--list", "sglang"), "NEWSLETTER_SECRET")
    assert_one_line_failure(run("subscribers", "confirm", "x.y.z"), "NEWSLETTER_SECRET")
    assert store.get_member("ada@example.com", "sglang") is None
    assert run("subscribers", "add", "ada@example.com", "--list", "sglang", "--confirmed").exit_code == 0
