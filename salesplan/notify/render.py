"""Rendering a message: plain text, HTML with inline styles (mail clients drop style sheets; one
narrow column reads on a phone), and the MIME message (multipart/alternative)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from html import escape

from salesplan.notify.content import Content, Section

KIND_HEADER = "X-Salesplan-Kind"
TONE_COLOUR = {
    "achieved": "#1b7f3b", "on_track": "#1b7f3b", "at_risk": "#b26a00", "off_track": "#c62828",
    "too_late": "#7b1fa2", "not_started": "#616161", "no_target": "#616161",
}
FOOTER = ("You get this e-mail because you have an account on the sales plan dashboard. "
          "Turn the weekly digest or the alerts off on the dashboard, or ask an admin.")


def _section_text(section: Section) -> list[str]:
    lines = [section.title, "-" * len(section.title)]
    width = max((len(label) for label, _ in section.facts), default=0)
    lines += [f"{label + ':':<{width + 1}} {value}" for label, value in section.facts]
    for item in section.items:
        lines.append(f"* {item.text}")
        lines += [f"    {detail}" for detail in item.details]
        if item.link:
            lines.append(f"    {item.link}")
    if section.note:
        lines.append(section.note)
    return lines + [""]


def text(content: Content) -> str:
    """The plain-text part."""
    lines = [content.heading, "=" * len(content.heading), "", content.intro, ""]
    for section in content.sections:
        lines += _section_text(section)
    if content.link:
        lines += [f"Open the dashboard: {content.link}", ""]
    lines += ["-- ", FOOTER]
    return "\n".join(lines) + "\n"


def _colour(tone: str) -> str:
    return TONE_COLOUR.get(tone, "#1f2937")


def _section_html(section: Section) -> str:
    parts = [f'<h2 style="font-size:17px;margin:22px 0 8px;color:{_colour(section.tone)};'
             f'border-bottom:2px solid #e5e7eb;padding-bottom:4px">{escape(section.title)}</h2>']
    if section.facts:
        rows = "".join(
            f'<tr><td style="padding:5px 8px 5px 0;color:#6b7280;vertical-align:top;width:38%">{escape(label)}</td>'
            f'<td style="padding:5px 0;vertical-align:top;font-weight:{"700" if label == "Status" else "400"};'
            f'color:{_colour(section.tone) if label == "Status" else "#111827"}">{escape(value)}</td></tr>'
            for label, value in section.facts
        )
        parts.append(f'<table role="presentation" style="width:100%;border-collapse:collapse;font-size:15px">{rows}</table>')
    for item in section.items:
        details = "".join(f'<div style="color:#374151;font-size:14px;margin-top:3px">{escape(d)}</div>'
                          for d in item.details)
        link = (f'<div style="margin-top:4px"><a href="{escape(item.link, quote=True)}" '
                f'style="color:#1d4ed8;font-size:14px">Open on the dashboard</a></div>') if item.link else ""
        parts.append(
            f'<div style="border-left:4px solid {_colour(item.tone)};padding:6px 0 6px 10px;margin:8px 0">'
            f'<div style="font-size:15px;font-weight:600;color:#111827">{escape(item.text)}</div>{details}{link}</div>'
        )
    if section.note:
        parts.append(f'<p style="font-size:15px;color:#374151;margin:6px 0">{escape(section.note)}</p>')
    return "".join(parts)


def html(content: Content) -> str:
    """The HTML part: one column of at most 600 px, inline styles only, every user text escaped."""
    button = (f'<p style="margin:24px 0"><a href="{escape(content.link, quote=True)}" style="background:#1d4ed8;'
              f'color:#ffffff;text-decoration:none;padding:10px 16px;border-radius:6px;font-size:15px;'
              f'display:inline-block">Open the dashboard</a></p>') if content.link else ""
    body = "".join(_section_html(section) for section in content.sections)
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(content.subject)}</title></head>"
        '<body style="margin:0;padding:0;background:#f3f4f6">'
        '<div style="max-width:600px;margin:0 auto;background:#ffffff;padding:16px 18px;'
        'font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;line-height:1.4">'
        f'<h1 style="font-size:21px;margin:4px 0 6px;color:#111827">{escape(content.heading)}</h1>'
        f'<p style="font-size:15px;color:#374151;margin:0 0 8px">{escape(content.intro)}</p>'
        f"{body}{button}"
        f'<p style="font-size:12px;color:#6b7280;margin-top:28px">{escape(FOOTER)}</p>'
        "</div></body></html>"
    )


def email_message(content: Content, mail_from: str, *, subject_prefix: str = "") -> EmailMessage:
    """The MIME message: multipart/alternative with the text and HTML parts, the kind header,
    and Auto-Submitted so that auto-responders stay quiet."""
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = content.recipient
    message["Subject"] = subject_prefix + content.subject
    message["Date"] = formatdate(localtime=False)
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "salesplan.invalid"
    message["Message-ID"] = make_msgid("salesplan", domain=domain)
    message[KIND_HEADER] = content.kind
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text(content))
    message.add_alternative(html(content), subtype="html")
    return message
