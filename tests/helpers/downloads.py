"""What the page's download buttons hand Streamlit, by label: a page passes a callable as ``data``
so that the file is built only when the button is clicked; Streamlit runs it then (on the
server's request for the file). AppTest has no server, so it never runs it: the tests call it
themselves, as a click does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamlit.elements.widgets import button


def capture_downloads(monkeypatch) -> dict[str, Any]:
    """From now on, every download button's ``data`` by its label (the latest run's wins)."""
    seen: dict[str, Any] = {}
    original = button.marshall_file

    def record(coordinates, data, proto, *args, **kwargs):
        seen[proto.label] = data
        return original(coordinates, data, proto, *args, **kwargs)

    monkeypatch.setattr(button, "marshall_file", record)
    return seen


def counting(monkeypatch, module: Any, name: str) -> list[tuple]:
    """Replace ``module.name`` by a wrapper that records the arguments of each call; returns the list."""
    calls: list[tuple] = []
    original: Callable[..., Any] = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def download(seen: dict[str, Any], label: str) -> bytes:
    """The file the browser gets when the button ``label`` is clicked: the data Streamlit serves."""
    data = seen[label]
    assert callable(data), f"{label!r} was built on the rerun ({type(data).__name__}), not on its click"
    out = data()
    return out.encode() if isinstance(out, str) else out
