"""A local stand-in for the deployed stack: moto's server on loopback (DynamoDB, S3, SQS, SES), the GitHub fake,
one list file and the environment serverless.yml gives the functions. Shared by the AWS e2e, browser and
bench code."""

from __future__ import annotations

import base64
import copy
import email
import email.policy
import json
import urllib.request
import uuid
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import boto3

from newsletter.store.dynamodb import DynamoStore

DATA = Path(__file__).resolve().parent / "data"
SENDER = "digest@example.com"
SECRET = "aws-e2e-Ht6Wq1Zn8Kb3Xm5Rp0Vc7Ly2Fj4Ds9Ge"

LIST_TOML = """\
title = "Widgets daily"
repos = ["acme/widgets"]
timezone = "America/Los_Angeles"
language = "en"
send_at = 08:00:00
sender = "Commit Digest <digest@example.com>"
postal_address = "1 Example Road, Springfield"
skip_empty_days = false
exclude_bots = true
analyzer = "heuristic"
"""


def event(name: str) -> dict[str, Any]:
    return json.loads((DATA / "aws" / name).read_text(encoding="utf-8"))


@dataclass
class Stack:
    endpoint: str
    env: dict[str, str]
    prefix: str
    bucket: str
    queue_url: str
    domain: str  # every subscriber of this stack has an address at this domain

    def store(self) -> DynamoStore:
        return DynamoStore(self.prefix, region="us-east-1", endpoint_url=self.endpoint)

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name="us-east-1", endpoint_url=self.endpoint)

    def mails(self) -> list[Message]:
        """Every raw message moto's SES accepted for this stack's addresses, parsed."""
        with urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json", timeout=30) as answer:
            raw = json.load(answer)["ses"]["RawMessage"]
        out = []
        for item in raw:
            message = email.message_from_string(item["raw_data"], policy=email.policy.default)
            if str(message["To"]).endswith("@" + self.domain):
                out.append(message)
        return out

    def drain(self, send_batch: Any) -> tuple[int, list[dict[str, Any]]]:
        """Receive every queued message and hand it to ``send_batch`` as Lambda's SQS event; delete what it
        did not report as failed. Returns (messages handled, every record made)."""
        sqs = self.client("sqs")
        handled = 0
        records: list[dict[str, Any]] = []
        template = event("sqs-event.json")["Records"][0]
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages", [])
            if not messages:
                return handled, records
            batch = []
            for m in messages:
                record = copy.deepcopy(template)
                record.update(messageId=m["MessageId"], receiptHandle=m["ReceiptHandle"], body=m["Body"])
                batch.append(record)
            answer = send_batch({"Records": batch}, None)
            failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
            for record in batch:
                if record["messageId"] not in failed:
                    sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"])
            handled += len(batch)
            records += batch


def make_stack(endpoint: str, tmp: Path, github_env: dict[str, str]) -> Stack:
    tag = uuid.uuid4().hex[:10]
    prefix = f"e2e{tag}"
    DynamoStore(prefix, region="us-east-1", endpoint_url=endpoint).init()
    bucket = f"archive-{tag}"
    boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    queue_url = boto3.client("sqs", region_name="us-east-1", endpoint_url=endpoint).create_queue(
        QueueName=f"send-{tag}"
    )["QueueUrl"]
    boto3.client("ses", region_name="us-east-1", endpoint_url=endpoint).verify_email_identity(EmailAddress=SENDER)
    lists = tmp / "subscribers"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "widgets.toml").write_text(LIST_TOML, encoding="utf-8")
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": "us-east-1",
        "NEWSLETTER_STORE": f"dynamodb://{prefix}",
        "NEWSLETTER_ARCHIVE": f"s3://{bucket}/site",
        "NEWSLETTER_ARCHIVE_URL": "https://archive.example.com",
        "NEWSLETTER_PUBLIC_URL": "https://api.example.com",
        "NEWSLETTER_DELIVERY": "ses",
        "NEWSLETTER_SEND_RATE": "500",
        "NEWSLETTER_SENDER_CONCURRENCY": "2",
        "NEWSLETTER_SEND_QUEUE_URL": queue_url,
        "NEWSLETTER_SECRET": SECRET,
        "NEWSLETTER_LISTS_DIR": str(lists),
        **github_env,
    }
    return Stack(endpoint, env, prefix, bucket, queue_url, f"{tag}.example.org")


def http_event(
    method: str, path: str, *, query: str = "", body: bytes = b"", content_type: str | None = None
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event like the one in tests/data/aws, for another request."""
    out = event("http-api-v2.json")
    out["routeKey"] = f"{method} {path}"
    out["rawPath"] = path
    out["rawQueryString"] = query
    out["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&") if "=" in p) or None
    out["requestContext"]["http"].update(method=method, path=path)
    out["requestContext"]["routeKey"] = f"{method} {path}"
    out["headers"].pop("content-type", None)
    out["headers"]["content-length"] = str(len(body))
    if content_type:
        out["headers"]["content-type"] = content_type
    out["body"] = base64.b64encode(body).decode() if body else None
    out["isBase64Encoded"] = bool(body)
    return out
