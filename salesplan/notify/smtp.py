"""Sending by SMTP (smtplib): host, port, STARTTLS and user from the settings; the password only
from ``$SALESPLAN_SMTP_PASSWORD`` or ``.streamlit/secrets.toml`` (``[smtp] password``), never from
the database."""

from __future__ import annotations

import os
import smtplib
import ssl
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from salesplan.errors import SalesplanError

PASSWORD_ENV = "SALESPLAN_SMTP_PASSWORD"
SECRETS_FILE = Path(".streamlit") / "secrets.toml"
TIMEOUT = 30.0


# the advice in words that suit the Admin page and the command line alike (a page never names a
# command-line option); the command line adds its own on a line of its own (salesplan/cli.py)
SET_MAIL_SERVER = "set the mail server on the Admin page"
SET_SENDER = "set the sender on the Admin page"
STARTTLS_OFF = "turn STARTTLS off in the e-mail settings"


class NotConfigured(SalesplanError):
    """The e-mail settings are incomplete: nothing was claimed or sent."""


class SendFailed(SalesplanError):
    """One message could not be sent. ``connection`` is True when the server could not be reached
    or dropped the connection (then the other messages of the run would fail the same way)."""

    def __init__(self, message: str, *, connection: bool = False):
        super().__init__(message)
        self.connection = connection


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    starttls: bool
    user: str
    password: str | None
    mail_from: str

    def __repr__(self) -> str:  # never print the password
        return (f"SmtpConfig(host={self.host!r}, port={self.port}, starttls={self.starttls}, user={self.user!r}, "
                f"password={'set' if self.password else 'unset'}, mail_from={self.mail_from!r})")


def smtp_password(env: Mapping[str, str] | None = None, secrets_file: Path | None = None) -> str | None:
    """The SMTP password: the environment variable first, else the secrets file's [smtp] password.
    Raises NotConfigured when the secrets file exists but cannot be read as TOML."""
    env = os.environ if env is None else env
    if env.get(PASSWORD_ENV):
        return env[PASSWORD_ENV]
    path = secrets_file if secrets_file is not None else SECRETS_FILE
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise NotConfigured(f"{path}: cannot read the SMTP password: {error}") from error
    section = data.get("smtp")
    password = section.get("password") if isinstance(section, dict) else None
    return str(password) if password else None


def smtp_config(settings: Any, *, env: Mapping[str, str] | None = None,
                secrets_file: Path | None = None) -> SmtpConfig:
    """The SMTP configuration from the settings plus the password. Raises NotConfigured naming
    what is missing (the SMTP host, the sender address, or the password for a set user)."""
    problems = []
    if not settings.smtp_host:
        problems.append(f"no SMTP server: {SET_MAIL_SERVER}")
    if not settings.mail_from:
        problems.append(f"no sender address: {SET_SENDER}")
    password = smtp_password(env, secrets_file)
    if settings.smtp_user and not password:
        problems.append(f"the SMTP user {settings.smtp_user!r} needs a password: set the environment variable "
                        f"{PASSWORD_ENV} or password under [smtp] in {SECRETS_FILE}")
    if problems:
        raise NotConfigured("E-mail is not set up: " + "; ".join(problems) + ". Nothing was sent.")
    return SmtpConfig(settings.smtp_host, int(settings.smtp_port), bool(settings.smtp_starttls),
                      settings.smtp_user, password, settings.mail_from)


def _answer(text: bytes | str) -> str:
    return text.decode(errors="replace") if isinstance(text, bytes) else str(text)


class SmtpTransport:
    """One SMTP connection, opened on the first message and reused; reopened after a drop."""

    def __init__(self, config: SmtpConfig, *, timeout: float = TIMEOUT):
        self.config = config
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def _where(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        try:
            smtp = smtplib.SMTP(config.host, config.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as error:
            raise SendFailed(f"cannot reach the SMTP server {self._where()}: {error}", connection=True) from error
        try:
            smtp.ehlo()
            if config.starttls:
                if not smtp.has_extn("starttls"):
                    raise SendFailed(f"the SMTP server {self._where()} does not offer STARTTLS; {STARTTLS_OFF} "
                                     "only on a trusted network",
                                     connection=True)
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if config.user:
                smtp.login(config.user, config.password or "")
        except SendFailed:
            smtp.close()
            raise
        except smtplib.SMTPAuthenticationError as error:
            smtp.close()
            raise SendFailed(f"the SMTP server {self._where()} refused the user {config.user!r}: "
                             f"{error.smtp_code} {_answer(error.smtp_error)}", connection=True) from error
        except smtplib.SMTPNotSupportedError as error:
            smtp.close()
            raise SendFailed(f"the SMTP server {self._where()} does not offer a login (AUTH); "
                             "clear the SMTP user if it needs none", connection=True) from error
        except (OSError, smtplib.SMTPException) as error:
            smtp.close()
            raise SendFailed(f"the SMTP server {self._where()} failed while setting up: {error}", connection=True) from error
        return smtp

    def send(self, message: EmailMessage) -> None:
        """Send one message. Raises SendFailed with the server's answer (4xx/5xx) or the network error."""
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            refused = self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            answers = "; ".join(f"{rcpt}: {code} {_answer(text)}" for rcpt, (code, text) in error.recipients.items())
            raise SendFailed(f"the SMTP server {self._where()} refused the recipient ({answers})") from error
        except smtplib.SMTPResponseException as error:
            raise SendFailed(f"the SMTP server {self._where()} answered {error.smtp_code} {_answer(error.smtp_error)}") from error
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            self.close()
            raise SendFailed(f"the connection to the SMTP server {self._where()} broke: {error}", connection=True) from error
        except smtplib.SMTPException as error:
            raise SendFailed(f"the SMTP server {self._where()} refused the message: {error}") from error
        if refused:
            raise SendFailed(f"the SMTP server {self._where()} refused {', '.join(refused)}")

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
