"""Text from users made safe for a terminal: file names and cells may carry control characters
(escape sequences that move the cursor, clear the screen or write the clipboard, bidi overrides
that reorder what is shown). See docs/security.md."""

from __future__ import annotations

import re

# C0 and C1 controls (DEL too) and the Unicode bidi embedding, override and isolate characters
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def without_controls(text: str) -> str:
    """``text`` with every control character removed (for names the store keeps). Raises nothing."""
    return _CONTROLS.sub("", text)


def escape_controls(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``), for printing.
    Raises nothing."""
    return _CONTROLS.sub(lambda match: match.group(0).encode("unicode_escape").decode("ascii"), text)
