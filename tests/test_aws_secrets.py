"""Secrets come from SSM Parameter Store (moto server on loopback), decrypted, explicit env winning."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from newsletter.aws.secrets import with_secrets
from newsletter.errors import ConfigError
from tests.fakes.aws import moto_server


def test_secrets_are_read_from_the_ssm_path() -> None:
    with moto_server() as endpoint:
        ssm = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1")
        ssm.put_parameter(Name="/newsletter/prod/GITHUB_TOKEN", Value="ghp_secret", Type="SecureString")
        ssm.put_parameter(Name="/newsletter/prod/NEWSLETTER_SECRET", Value="s3cr3t", Type="SecureString")
        env = {
            "NEWSLETTER_SSM_PATH": "/newsletter/prod/",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": "us-east-1",
            "NEWSLETTER_SECRET": "local-override",
        }
        merged = with_secrets(env)
    assert merged["GITHUB_TOKEN"] == "ghp_secret"
    assert merged["NEWSLETTER_SECRET"] == "local-override"
    assert "OPENAI_API_KEY" not in merged  # absent parameter: the heuristic analyzer
    assert env.get("GITHUB_TOKEN") is None  # the input is not modified


def test_no_path_no_lookup() -> None:
    assert with_secrets({"A": "1"}) == {"A": "1"}


def test_unreachable_ssm_is_one_config_error() -> None:
    with moto_server() as endpoint:
        pass  # stopped: nothing listens there any more
    env = {"NEWSLETTER_SSM_PATH": "/newsletter/prod", "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1"}
    client = boto3.client(
        "ssm",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    with pytest.raises(ConfigError, match="/newsletter/prod"):
        with_secrets(env, client=client)
