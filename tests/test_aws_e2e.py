"""The Lambda handlers end to end, with the event JSON AWS sends, against moto's server on loopback (DynamoDB,
S3, SQS, SES) and the GitHub fake: tick → archive + queue → send_batch → one mail per active subscriber."""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from newsletter.aws import handlers
from newsletter.errors import StoreError
from newsletter.store.base import IssueRecord, IssueStatus, MemberStatus
from tests.aws_stack import DATA, Stack, event, http_event, make_stack
from tests.fakes.github import FakeGitHub, synthetic_day

ACTIVE, PENDING, LEFT = 23, 3, 2
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def stack(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    with FakeGitHub(DATA / "github" / "widgets-2026-03-08") as gh:
        made = make_stack(moto_endpoint, tmp_path, {"GITHUB_API_URL": gh.api_url, "GITHUB_URL": gh.web_url})
        for name, value in made.env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("NEWSLETTER_SEND_BATCH", "10")  # a few dozen subscribers still make several messages
        yield made


def people(stack: Stack, n: int, kind: str) -> list[str]:
    return [f"{kind}{i:03d}@{stack.domain}" for i in range(n)]


def seed(stack: Stack) -> list[str]:
    store = stack.store()
    active = people(stack, ACTIVE, "reader")
    store.add_members([(e, None) for e in active], "widgets", status=MemberStatus.ACTIVE, source="test")
    store.add_members(
        [(e, None) for e in people(stack, PENDING, "pending")], "widgets", status=MemberStatus.PENDING, source="test"
    )
    for e in people(stack, LEFT, "left"):
        store.add_members([(e, None)], "widgets", status=MemberStatus.ACTIVE, source="test")
        store.transition(
            e,
            "widgets",
            MemberStatus.UNSUBSCRIBED,
            allowed_from=frozenset({MemberStatus.ACTIVE}),
            action="unsubscribed",
            source="test",
        )
    return active


def tick(when: str) -> dict:
    scheduled = event("scheduler-event.json")
    scheduled["time"] = when
    return handlers.scheduled(scheduled, None)


def queued(stack: Stack) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_tick_archives_fills_queue_and_senders_mail_each_active_subscriber_once(stack: Stack) -> None:
    active = seed(stack)

    first = tick("2026-03-09T15:00:00Z")  # 08:00 in Los Angeles: the digest of 2026-03-08
    assert first["issues"] == [{"issue": "widgets/2026-03-08", "status": "sending", "messages": 3}]
    assert queued(stack) == 3
    keys = [o["Key"] for o in stack.client("s3").list_objects_v2(Bucket=stack.bucket)["Contents"]]
    assert {"site/widgets/2026-03-08.html", "site/widgets/feed.xml", "site/index.html"} <= set(keys)
    page = stack.client("s3").get_object(Bucket=stack.bucket, Key="site/widgets/2026-03-08.html")["Body"].read()
    assert "acme/widgets" in page.decode()

    handled, records = stack.drain(handlers.send_batch)
    assert handled == 3
    mails = stack.mails()
    sent_to = Counter(str(m["To"]) for m in mails)
    assert sorted(sent_to) == sorted(active)
    assert set(sent_to.values()) == {1}

    # The scheduler retries or duplicates the event: nothing is queued, nothing is sent.
    again = tick("2026-03-09T15:00:00Z")
    assert again["issues"] == [{"issue": "widgets/2026-03-08", "status": "sent", "messages": 0}]
    assert queued(stack) == 0
    # SQS delivers a message twice (at-least-once): the ledger lets nobody through a second time.
    answer = handlers.send_batch({"Records": records[:2]}, None)
    assert answer == {"batchItemFailures": []}
    assert len(stack.mails()) == ACTIVE

    # One reader clicks the mail client's unsubscribe button (RFC 8058), another address hard-bounces.
    leaver = mails[0]
    header = str(leaver["List-Unsubscribe"])
    url = urlsplit(re.search(r"<(https://[^>]+)>", header).group(1))
    assert url.netloc == "api.example.com" and url.path == "/unsubscribe"
    assert "One-Click" in str(leaver["List-Unsubscribe-Post"])
    one_click = event("http-api-v2.json")
    one_click["rawQueryString"] = url.query
    response = handlers.http(one_click, None)
    assert response["statusCode"] == 200
    assert len(response["body"]) < 100
    bounced = next(str(m["To"]) for m in mails if str(m["To"]) != str(leaver["To"]))
    ses = json.loads((DATA / "aws" / "ses-bounce-event.json").read_text().replace("EMAIL", bounced))
    notification = event("sns-ses-bounce.json")
    notification["Records"][0]["Sns"]["Message"] = json.dumps(ses)
    assert handlers.ses_events(notification, None) == {"suppressed": 1, "duplicates": 0}
    assert handlers.ses_events(notification, None) == {"suppressed": 1, "duplicates": 1}
    store = stack.store()
    assert store.get_member(str(leaver["To"]), "widgets").status == MemberStatus.UNSUBSCRIBED
    assert store.is_suppressed(bounced)

    # The next issue (an empty day, which this list still mails) skips both. The fixture holds one day of
    # commits, so "next" is another, quiet day.
    before = len(stack.mails())
    assert tick("2026-03-03T16:00:00Z")["issues"][0]["issue"] == "widgets/2026-03-02"
    stack.drain(handlers.send_batch)
    second = Counter(str(m["To"]) for m in stack.mails()[before:])
    assert sorted(second) == sorted(set(active) - {str(leaver["To"]), bounced})
    assert set(second.values()) == {1}


def test_who_unsubscribes_or_bounces_after_the_tick_gets_nothing_from_the_queued_batches(stack: Stack) -> None:
    from newsletter.subscriptions import Tokens
    from tests.aws_stack import SECRET

    active = seed(stack)
    assert tick("2026-03-09T15:00:00Z")["issues"][0]["messages"] == 3  # every active reader is in the queue
    # Between the tick and the senders: one reader follows an unsubscribe link of an earlier issue, another
    # address hard-bounces on some other mail.
    leaver, bounced = active[4], active[17]
    token = Tokens(SECRET).make("unsubscribe", leaver, "widgets")
    one_click = http_event("POST", "/unsubscribe", query=f"token={token}", body=b"List-Unsubscribe=One-Click")
    assert handlers.http(one_click, None)["statusCode"] == 200
    ses = json.loads((DATA / "aws" / "ses-bounce-event.json").read_text().replace("EMAIL", bounced))
    notification = event("sns-ses-bounce.json")
    notification["Records"][0]["Sns"]["Message"] = json.dumps(ses)
    assert handlers.ses_events(notification, None)["suppressed"] == 1

    stack.drain(handlers.send_batch)
    sent_to = Counter(str(m["To"]) for m in stack.mails())
    assert sorted(sent_to) == sorted(set(active) - {leaver, bounced})
    assert set(sent_to.values()) == {1}
    assert {e.email for e in stack.store().entries("widgets/2026-03-08")} == set(active) - {leaver, bounced}


def test_a_batch_of_an_unknown_issue_is_reported_failed_and_a_malformed_one_too(stack: Stack) -> None:
    records = event("sqs-event.json")["Records"]
    good_shape = json.dumps({"v": 1, "issue": "widgets/1999-01-01", "list": "widgets", "to": [["a@b.example"]]})
    records = [dict(records[0], messageId="m1", body=good_shape), dict(records[0], messageId="m2", body="{nope")]
    answer = handlers.send_batch({"Records": records}, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}


def test_idn_and_non_ascii_recipients_fail_alone_and_the_batch_is_not_retried(stack: Stack) -> None:
    """An IDN domain goes out in its xn-- form; SES takes no non-ASCII local part, so that one reader is recorded
    failed for good; the batch's other readers are mailed and the SQS message is not reported failed."""
    import idna

    from newsletter.store.base import LedgerState
    from newsletter.subscriptions import normalise_email
    from tests.fakes.ses import raw_messages

    plain = people(stack, 4, "reader")
    idn, local = f"anna@bücher-{stack.prefix}.example", f"josé@{stack.domain}"
    store = stack.store()
    members = [(normalise_email(e), "Ann") for e in [*plain, idn, local]]
    store.add_members(members, "widgets", status=MemberStatus.ACTIVE, source="test")
    assert tick("2026-03-09T15:00:00Z")["issues"][0]["messages"] == 1
    handled, _ = stack.drain(handlers.send_batch)
    assert handled == 1
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0"  # deleted: not to be retried
    wire_idn = f"anna@{idna.encode(f'bücher-{stack.prefix}.example').decode()}"
    sent_to = Counter(d for m in raw_messages(stack.endpoint) for d in set(m["destinations"]))
    assert {a: sent_to[a] for a in [*plain, wire_idn]} == dict.fromkeys([*plain, wire_idn], 1)
    entries = {e.email: e for e in store.entries("widgets/2026-03-08")}
    assert entries[normalise_email(idn)].state == LedgerState.SENT
    assert entries[local].state == LedgerState.FAILED and "non-ASCII" in (entries[local].reason or "")


def test_http_subscribe_confirm_unsubscribe_undo_preferences(stack: Stack) -> None:
    address = f"new@{stack.domain}"
    store = stack.store()

    page = handlers.http(http_event("GET", "/subscribe", query="list=widgets"), None)
    assert page["statusCode"] == 200 and 'name="email"' in page["body"]

    # No reflection: the rejected address is not shown again.
    bad = handlers.http(
        http_event(
            "POST",
            "/subscribe",
            body=b"list=widgets&email=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            content_type="application/x-www-form-urlencoded",
        ),
        None,
    )
    assert bad["statusCode"] == 400 and "<script>alert" not in bad["body"] and "alert(1)" not in bad["body"]

    body = f"list=widgets&email={address}&name=Ada".encode()
    ok = handlers.http(
        http_event("POST", "/subscribe", body=body, content_type="application/x-www-form-urlencoded"), None
    )
    assert ok["statusCode"] == 202
    assert store.get_member(address, "widgets").status == MemberStatus.PENDING
    assert not [m for m in stack.mails() if str(m["To"]) == address]  # queued, not sent by the web Lambda
    assert stack.drain(handlers.send_batch)[0] == 1  # the sender Lambdas send it, at their pace
    confirmation = [m for m in stack.mails() if str(m["To"]) == address]
    assert len(confirmation) == 1
    text = confirmation[0].get_body(("plain",)).get_content()
    link = urlsplit(re.search(r"https://api\.example\.com/confirm\?\S+", text).group(0))

    tampered = handlers.http(http_event("GET", "/confirm", query=link.query[:-3] + "xyz"), None)
    assert tampered["statusCode"] == 400
    assert store.get_member(address, "widgets").status == MemberStatus.PENDING
    done = handlers.http(http_event("GET", "/confirm", query=link.query), None)
    assert done["statusCode"] == 200
    assert store.get_member(address, "widgets").status == MemberStatus.ACTIVE

    from newsletter.subscriptions import Tokens
    from tests.aws_stack import SECRET

    token = Tokens(SECRET).make("unsubscribe", address, "widgets")
    wrong_purpose = handlers.http(
        http_event("GET", "/unsubscribe", query="token=" + Tokens(SECRET).make("confirm", address, "widgets")), None
    )
    assert wrong_purpose["statusCode"] == 400
    assert store.get_member(address, "widgets").status == MemberStatus.ACTIVE
    asked = handlers.http(http_event("GET", "/unsubscribe", query=f"token={token}"), None)
    assert asked["statusCode"] == 200 and 'name="confirm"' in asked["body"]
    assert store.get_member(address, "widgets").status == MemberStatus.ACTIVE  # opening the link changes nothing
    left = handlers.http(
        http_event("POST", "/unsubscribe", query=f"token={token}", body=b"confirm=1", content_type=FORM),
        None,
    )
    assert left["statusCode"] == 200 and 'name="undo"' in left["body"]
    assert store.get_member(address, "widgets").status == MemberStatus.UNSUBSCRIBED
    undo = re.search(r'name="undo" value="([^"]+)"', left["body"]).group(1)
    back = handlers.http(
        http_event("POST", "/unsubscribe", body=f"undo={undo}".encode(), content_type=FORM),
        None,
    )
    assert back["statusCode"] == 200
    assert store.get_member(address, "widgets").status == MemberStatus.ACTIVE

    prefs = Tokens(SECRET).make("preferences", address, "widgets")
    form = handlers.http(http_event("GET", "/preferences", query=f"token={prefs}"), None)
    assert form["statusCode"] == 200 and "checked" in form["body"]
    saved = handlers.http(
        http_event(
            "POST", "/preferences", query=f"token={prefs}", body=b"", content_type="application/x-www-form-urlencoded"
        ),
        None,
    )
    assert saved["statusCode"] == 200
    assert store.get_member(address, "widgets").status == MemberStatus.UNSUBSCRIBED

    as_json = handlers.http(
        http_event(
            "POST",
            "/subscribe",
            body=json.dumps({"list": "widgets", "email": f"json@{stack.domain}"}).encode(),
            content_type="application/json",
        ),
        None,
    )
    assert as_json["statusCode"] == 202 and json.loads(as_json["body"]) == {"status": "pending"}
    assert handlers.http(http_event("GET", "/nowhere"), None)["statusCode"] == 404


def test_a_list_whose_kept_day_is_corrupt_fails_alone_and_the_next_list_goes_out(stack: Stack) -> None:
    """One list's issue failing in a way nobody foresaw (its kept day is not an issue any more) is reported
    and fails the tick at the end; the next list of the same tick is still queued and mailed."""
    lists = Path(stack.env["NEWSLETTER_LISTS_DIR"])
    gadgets = (lists / "widgets.toml").read_text(encoding="utf-8").replace("Widgets daily", "Gadgets daily")
    (lists / "gadgets.toml").write_text(gadgets, encoding="utf-8")  # read before widgets: lists go by name
    store = stack.store()
    for list_id in ("gadgets", "widgets"):
        store.add_members([(f"{list_id}@{stack.domain}", None)], list_id, status=MemberStatus.ACTIVE, source="t")
    now = datetime.now(UTC)
    garbage = base64.b64encode(zlib.compress(b'{"not": "an issue"}')).decode("ascii")
    corrupt = IssueRecord(
        issue_id="gadgets/2026-03-08@en", list_id="gadgets", date=date(2026, 3, 8), created_at=now, updated_at=now
    )
    assert store.create_issue(corrupt.model_copy(update={"body": garbage}))

    with pytest.raises(RuntimeError, match=r"failed for: gadgets \(day\)$"):
        tick("2026-03-09T15:00:00Z")
    stack.drain(handlers.send_batch)
    assert [str(m["To"]) for m in stack.mails()] == [f"widgets@{stack.domain}"]
    record = store.get_issue("widgets/2026-03-08")
    assert record is not None and record.status == IssueStatus.SENT


def test_a_notification_the_store_cannot_record_fails_the_invocation_so_that_it_is_retried(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A complaint that arrives while the store is unreachable must not be acknowledged (SNS → Lambda retries
    a failed invocation); only what is not an SES notification at all is dropped."""
    complainer = f"reader001@{stack.domain}"
    ses = json.loads(json.loads((DATA / "ses" / "complaint.json").read_text())["Message"])
    ses["complaint"]["complainedRecipients"] = [{"emailAddress": complainer}]
    notification = event("sns-ses-bounce.json")
    notification["Records"][0]["Sns"]["Message"] = json.dumps(ses)

    monkeypatch.setenv("NEWSLETTER_STORE", "dynamodb://no-such-table")
    with pytest.raises(StoreError):
        handlers.ses_events(notification, None)
    monkeypatch.setenv("NEWSLETTER_STORE", stack.env["NEWSLETTER_STORE"])
    assert handlers.ses_events(notification, None) == {"suppressed": 1, "duplicates": 0}
    assert stack.store().is_suppressed(complainer)

    subscription = event("sns-ses-bounce.json")
    subscription["Records"][0]["Sns"]["Type"] = "SubscriptionConfirmation"
    assert handlers.ses_events(subscription, None) == {"suppressed": 0, "duplicates": 0}


def test_one_click_unsubscribe_in_multipart_form_data_answers_200(stack: Stack) -> None:
    """RFC 8058 says the POST SHOULD be multipart/form-data (urlencoded MAY be used): both unsubscribe at
    once and answer 200; a tampered token changes nothing."""
    from newsletter.subscriptions import Tokens
    from tests.aws_stack import SECRET

    store = stack.store()
    readers = seed(stack)[:2]
    boundary = "----mailclient7d9f"
    part = 'Content-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click'
    body = f"--{boundary}\r\n{part}\r\n--{boundary}--\r\n".encode()
    content_type = f"multipart/form-data; boundary={boundary}"
    token = Tokens(SECRET).make("unsubscribe", readers[0], "widgets")

    tampered = http_event("POST", "/unsubscribe", query=f"token={token[:-2]}xx", body=body, content_type=content_type)
    assert handlers.http(tampered, None)["statusCode"] == 400
    assert store.get_member(readers[0], "widgets").status == MemberStatus.ACTIVE

    answer = handlers.http(
        http_event("POST", "/unsubscribe", query=f"token={token}", body=body, content_type=content_type), None
    )
    assert answer["statusCode"] == 200
    assert store.get_member(readers[0], "widgets").status == MemberStatus.UNSUBSCRIBED
    again = handlers.http(
        http_event("POST", "/unsubscribe", query=f"token={token}", body=body, content_type=content_type), None
    )
    assert again["statusCode"] == 200  # idempotent

    other = Tokens(SECRET).make("unsubscribe", readers[1], "widgets")
    urlencoded = http_event(
        "POST",
        "/unsubscribe",
        query=f"token={other}",
        body=b"List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert handlers.http(urlencoded, None)["statusCode"] == 200
    assert store.get_member(readers[1], "widgets").status == MemberStatus.UNSUBSCRIBED


def test_a_300_commit_day_goes_from_the_tick_through_the_queue_to_every_subscriber_and_ends_sent(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = synthetic_day(
        tmp_path / "case", repo="acme/widgets", day=date(2026, 3, 8), tz="America/Los_Angeles", count=300
    )
    with FakeGitHub(case) as gh:
        busy = make_stack(moto_endpoint, tmp_path, {"GITHUB_API_URL": gh.api_url, "GITHUB_URL": gh.web_url})
        for name, value in busy.env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("NEWSLETTER_SEND_BATCH", "10")
        readers = people(busy, 45, "reader")
        busy.store().add_members([(e, None) for e in readers], "widgets", status=MemberStatus.ACTIVE, source="test")

        ticked = tick("2026-03-09T15:00:00Z")
        assert ticked["issues"] == [{"issue": "widgets/2026-03-08", "status": "sending", "messages": 5}]
        record = busy.store().get_issue("widgets/2026-03-08")
        assert record is not None and record.status == IssueStatus.SENDING
        assert record.body or record.body_key  # the issue as sent is kept with its record, not in a cache

        handled, _ = busy.drain(handlers.send_batch)

    assert handled == 5
    mails = busy.mails()
    assert sorted(str(m["To"]) for m in mails) == sorted(readers)  # everyone, once
    text = mails[0].get_body(("plain",)).get_content()
    assert "acme/widgets" in text
    record = busy.store().get_issue("widgets/2026-03-08")
    assert record is not None and record.status == IssueStatus.SENT
    assert (record.stats["sent"], record.stats["failed"], record.stats["sqs_messages"]) == (45, 0, 5)
    again = tick("2026-03-09T15:15:00Z")  # the next tick in the send window leaves a sent issue alone
    assert again["issues"] == [{"issue": "widgets/2026-03-08", "status": "sent", "messages": 0}]
