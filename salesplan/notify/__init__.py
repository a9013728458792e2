"""E-mail early warnings (docs/notifications.md): the weekly digest per role, alerts, rendering,
SMTP sending with a sent-message log, and the serving process's scheduler.

The core of this package never imports streamlit; the Admin page calls :mod:`salesplan.notify.admin`.
"""

from salesplan.notify.admin import (
    Preview,
    email_preferences,
    preview_digest,
    send_test,
    set_email_preferences,
)
from salesplan.notify.dispatch import Outgoing, RunResult, build_due, digest_slot, local_now, send, write_eml
from salesplan.notify.smtp import NotConfigured, SendFailed, SmtpTransport, smtp_config

__all__ = [
    "NotConfigured", "Outgoing", "Preview", "RunResult", "SendFailed", "SmtpTransport", "build_due", "digest_slot",
    "email_preferences", "local_now", "preview_digest", "send", "send_test", "set_email_preferences",
    "smtp_config", "write_eml",
]
