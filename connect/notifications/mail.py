"""Outgoing mail: through SMTP (aiosmtplib) when CONNECT_SMTP_URL is set, else .eml files."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib

from connect.settings import Settings


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.outbox = settings.path("mail")

    def compose(
        self, to: str, subject: str, text: str, *, headers: dict[str, str] | None = None
    ) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="connect.local")
        for name, value in (headers or {}).items():
            message[name] = value
        message.set_content(text)
        return message

    async def send(
        self, to: str, subject: str, text: str, *, headers: dict[str, str] | None = None
    ) -> None:
        message = self.compose(to, subject, text, headers=headers)
        if self.settings.smtp_url:
            await self._send_smtp(message)
        else:
            await asyncio.to_thread(self._write_eml, message)

    async def _send_smtp(self, message: EmailMessage) -> None:
        url = urlsplit(self.settings.smtp_url)
        await aiosmtplib.send(
            message,
            hostname=url.hostname or "localhost",
            port=url.port or (465 if url.scheme == "smtps" else 25),
            username=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
            use_tls=url.scheme == "smtps",
            start_tls=None if url.scheme == "smtps" else False,
            timeout=20,
        )

    def _write_eml(self, message: EmailMessage) -> Path:
        self.outbox.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}-{secrets.token_hex(6)}.eml"
        final = self.outbox / name
        tmp = self.outbox / f".{name}.tmp"
        with open(tmp, "wb") as out:
            out.write(bytes(message))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, final)
        return final
