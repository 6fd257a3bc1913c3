"""The double opt-in email: one link that confirms, in the list's language, sent through the list's sender.

Deliberately plain (no tracking, no list headers: it is not list mail yet) and built with the standard
library's EmailMessage, which handles the encodings of a short bilingual message well enough.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import urlencode

from newsletter.models import MailingList
from newsletter.web.templating import render, t


def confirm_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/confirm?{urlencode({'token': token})}"


def confirmation_message(mailing_list: MailingList, email: str, url: str) -> bytes:
    language = mailing_list.language
    subject = t(language, "confirm_email.subject", list=mailing_list.title)
    message = EmailMessage()
    message["From"] = mailing_list.sender
    message["To"] = email
    if mailing_list.reply_to:
        message["Reply-To"] = mailing_list.reply_to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=parseaddr(mailing_list.sender)[1].rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    body = [
        t(language, "confirm_email.greeting"),
        "",
        t(language, "confirm_email.body", list=mailing_list.title),
        "",
        url,
        "",
        t(language, "confirm_email.expiry"),
    ]
    message.set_content("\n".join(body) + "\n")
    html = render("confirm_email.html.j2", language, title=subject, list_title=mailing_list.title, confirm_url=url)
    message.add_alternative(html, subtype="html")
    # CRLF on the wire: smtplib sends bytes as they are, and servers refuse bare LF (SMTP smuggling defences).
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
