"""A real SMTP server for tests (aiosmtpd): what it received, parsed, and scripted trouble.

`data_replies` makes the server refuse the next messages with the given replies (a 451, say)
before it accepts again; `stall_at` makes it hang at RCPT (nothing received yet) or right after
receiving DATA (the message is in, the client has no answer yet), so a test can kill the
client at that exact step.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage


@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)
    stall_at: str | None = None  # "RCPT" | "DATA"
    stalled: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def _stall(self, command: str) -> None:
        if self.stall_at != command:
            return
        self.stalled.set()
        while not self.release.is_set():  # poll: blocking would freeze the server's loop
            await asyncio.sleep(0.02)

    async def handle_RCPT(
        self, server: object, session: object, envelope: object, address: str, options: object
    ) -> str:
        await self._stall("RCPT")
        envelope.rcpt_tos.append(address)  # type: ignore[attr-defined]
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        data = envelope.content  # type: ignore[attr-defined]
        raw = data if isinstance(data, bytes) else data.encode()
        self.messages.append(email.message_from_bytes(raw, policy=email.policy.default))  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))  # type: ignore[attr-defined]
        await self._stall("DATA")
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    host: str
    port: int
    mailbox: Mailbox


def free_port() -> int:
    # aiosmtpd checks readiness by connecting to the port it was given, so port 0 will not do.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
