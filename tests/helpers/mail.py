"""A real SMTP server on 127.0.0.1 (aiosmtpd) that collects what it receives and can be told to
refuse, and one demo database per test process, copied for each test (the notification tests)."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from salesplan.principal import SYSTEM
from salesplan.store import Store
from tests.helpers import demo

DEMO_TODAY = date(2026, 3, 2)  # a Monday
DEMO_ACCOUNTS = ("admin@demo.test", "leader@demo.test", "manager1@demo.test", "rep1@demo.test", "rep2@demo.test")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def kind(self) -> str:
        return str(self.message["X-Salesplan-Kind"])

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()

    @property
    def html(self) -> str:
        return self.message.get_body(("html",)).get_content()


class Collector:
    """The aiosmtpd handler: keeps every accepted message; ``refuse_rcpt`` / ``refuse_data`` map a
    recipient to the SMTP answer to give instead (e.g. '550 5.1.1 no such user')."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse_rcpt: dict[str, str] = {}
        self.refuse_data: dict[str, str] = {}
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            if rcpt in self.refuse_data:
                return self.refuse_data[rcpt]
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def of_kind(self, kind: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.kind == kind]

    def to(self, recipient: str, kind: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if recipient in r.rcpt_tos and (kind is None or r.kind == kind)]


class SmtpServer:
    """aiosmtpd on 127.0.0.1 in a thread of its own; ``start``/``stop`` may be called again."""

    def __init__(self, port: int | None = None, **controller_options) -> None:
        self.port = port or free_port()
        self.collector = Collector()
        self._options = controller_options
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        self._controller = Controller(self.collector, hostname="127.0.0.1", port=self.port, **self._options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def running_server():
    """The body of a test module's ``smtp`` fixture: a fresh server on 127.0.0.1 for one test."""
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


def demo_store(target: Path, *, smtp_port: int | None = None, **settings) -> Store:
    """A store on a copy of the demo organisation (12 reps, seed 7, today 2026-03-02, the five demo
    accounts), built once per test run (tests/helpers/demo.py); ``smtp_port`` points the e-mail
    settings at a local server (no STARTTLS)."""
    path = demo.demo_copy(target, reps=12, seed=7, today=DEMO_TODAY)
    store = Store.open(path)
    if smtp_port is not None:
        settings = {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_starttls": "off",
                    "mail_from": "Sales plan <plan@demo.test>", **settings}
    if settings:
        store.save_settings(SYSTEM, **settings)
    return store
