"""Deliver: one personalised message per recipient through a Sender (SES, SMTP or a file outbox)."""
