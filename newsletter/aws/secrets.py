"""Secrets from SSM Parameter Store, read once per Lambda cold start.

serverless.yml never holds a secret, not even as a deploy-time ``${ssm:...}`` lookup (which would need AWS
credentials to package and would bake the value into the function's configuration). It passes a parameter
path instead (NEWSLETTER_SSM_PATH=/newsletter/<stage>); the handler module calls ``with_secrets(os.environ)``
at import and builds its Settings from the result. IAM allows ssm:GetParameter(s) on exactly these names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from newsletter.errors import ConfigError

SECRET_NAMES = ("GITHUB_TOKEN", "OPENAI_API_KEY", "NEWSLETTER_SECRET")


def with_secrets(env: Mapping[str, str], *, client: Any = None) -> dict[str, str]:
    """``env`` plus every secret found under ``env["NEWSLETTER_SSM_PATH"]`` (SecureString, decrypted).

    A variable already set in ``env`` wins (a local override); a parameter that does not exist is simply
    absent (no OPENAI_API_KEY means the heuristic analyzer). Without NEWSLETTER_SSM_PATH, ``env`` unchanged.
    """
    merged = dict(env)
    path = (env.get("NEWSLETTER_SSM_PATH") or "").rstrip("/")
    wanted = [name for name in SECRET_NAMES if not merged.get(name)]
    if not path or not wanted:
        return merged
    names = {f"{path}/{name}": name for name in wanted}
    import boto3  # only with secrets to read: see newsletter.backends
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        ssm = client or boto3.client(
            "ssm",
            region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
        )
        answer = ssm.get_parameters(Names=list(names), WithDecryption=True)
    except (ClientError, BotoCoreError) as err:
        raise ConfigError(
            f"cannot read secrets under SSM path {path}: {err}",
            hint="check NEWSLETTER_SSM_PATH and the function's ssm:GetParameters permission",
        ) from err
    for parameter in answer.get("Parameters", []):
        merged[names[parameter["Name"]]] = parameter["Value"]
    return merged
