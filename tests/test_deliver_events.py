"""SES notifications (SNS envelopes, JSON from SES's documentation) into suppressions, once each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.backends import open_store
from newsletter.cli import app
from newsletter.config import Settings
from newsletter.deliver.events import ingest, read_documents
from newsletter.errors import InputError

DATA = Path(__file__).parent / "data" / "ses"


def _one(name: str) -> dict:
    (document,) = read_documents((DATA / name).read_text(encoding="utf-8"))
    assert document.value is not None
    return document.value


def test_hard_bounce_and_complaint_suppress_at_once_and_only_once(any_store) -> None:
    bounce = ingest(_one("bounce-permanent.json"), any_store)
    assert bounce.kind == "Bounce" and bounce.suppressed == ["jane@example.org"] and not bounce.duplicate
    assert any_store.is_suppressed("jane@example.org")
    assert ingest(_one("bounce-permanent.json"), any_store).duplicate

    complaint = ingest(_one("complaint.json"), any_store)
    assert complaint.suppressed == ["mary@example.com"]
    assert any_store.is_suppressed("mary@example.com")
    event = ingest(_one("event-complaint.json"), any_store)  # configuration-set event publishing
    assert event.suppressed == ["ann@example.com"]


def test_delivery_changes_nothing(any_store) -> None:
    result = ingest(_one("delivery.json"), any_store)
    assert result.kind == "Delivery" and result.suppressed == []
    assert not any_store.is_suppressed("john@example.com")


def test_three_transient_bounces_in_fourteen_days_suppress(any_store) -> None:
    first, second, third = (d.value for d in read_documents((DATA / "bounces-transient.jsonl").read_text("utf-8")))
    assert ingest(first, any_store).soft_bounces == {"richard@example.net": 1}
    assert ingest(first, any_store).duplicate  # the same notification again counts nothing
    assert ingest(second, any_store).soft_bounces == {"richard@example.net": 2}
    assert not any_store.is_suppressed("richard@example.net")
    last = ingest(third, any_store)
    assert last.suppressed == ["richard@example.net"]
    assert any_store.is_suppressed("richard@example.net")


def test_malformed_input_is_one_clear_error() -> None:
    good, bad = read_documents('{"Type": "Notification"}\nnot json\n')
    assert good.value == {"Type": "Notification"} and bad.where == "line 2" and "not JSON" in (bad.problem or "")
    with pytest.raises(InputError, match="not an SES notification"):
        ingest({"hello": "world"}, None)  # type: ignore[arg-type]


def test_cli_ingest_file_and_stdin() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["events", "ingest", str(DATA / "bounces-transient.jsonl")])
    assert result.exit_code == 0, result.output
    assert "3 notifications, 0 already seen, 1 addresses suppressed" in result.output
    again = runner.invoke(app, ["events", "ingest", "-"], input=(DATA / "complaint.json").read_text())
    assert again.exit_code == 0 and "1 addresses suppressed" in again.output
    assert open_store(Settings.from_env()).is_suppressed("mary@example.com")
    bad = runner.invoke(app, ["events", "ingest", "-"], input="[1, 2]")
    assert bad.exit_code == 2 and "expected a JSON object" in bad.output


def test_bad_records_are_skipped_and_reported_and_the_rest_still_count(tmp_path: Path) -> None:
    """A record that is no notification (an SNS subscription confirmation, a stray line, JSON nested 5,000 deep)
    no longer stops the file: the good records after it are applied, the run ends non-zero naming what was
    skipped, and a re-run gets past it again. Recipients that are not addresses suppress nothing."""
    lines = [
        json.dumps({"Type": "SubscriptionConfirmation", "MessageId": "s1"}),
        "not json at all",
        "[" * 5000 + "]" * 5000,
        (DATA / "complaint.json").read_text(encoding="utf-8").replace("\n", " "),
        json.dumps(
            {
                "notificationType": "Bounce",
                "bounce": {
                    "bounceType": "Permanent",
                    "feedbackId": "fb-odd",
                    "bouncedRecipients": [
                        {"emailAddress": "@"},
                        {"emailAddress": "bad\nx@example.com"},
                        {"emailAddress": "Jane Roe <Jane.Roe@Example.ORG>"},
                        {"emailAddress": "anna@xn--mller-kva.de"},
                    ],
                },
            }
        ),
    ]
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for _ in range(2):
        result = CliRunner().invoke(app, ["events", "ingest", str(source)])
        assert isinstance(result.exception, SystemExit) and result.exit_code == 2, result.exception
        assert "line 1: SNS message of type 'SubscriptionConfirmation' is not a notification" in result.stdout
        assert "skipped line 2: not JSON" in result.stdout and "skipped line 3: JSON nested too deeply" in result.stdout
        assert "2 notifications" in result.stdout and "3 records skipped" in result.stdout
        assert "ignored 2 recipients that are not addresses" in result.stdout or "already seen" in result.stdout
    store = open_store(Settings.from_env())
    assert store.is_suppressed("mary@example.com")
    assert store.is_suppressed("jane.roe@example.org") and store.is_suppressed("anna@müller.de")
    assert not store.is_suppressed("@") and not store.is_suppressed("bad\nx@example.com")
    assert not store.is_suppressed("x@example.com")
