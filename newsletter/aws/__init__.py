"""Running on AWS Lambda: secrets from SSM at cold start (and, later, the thin handlers)."""
