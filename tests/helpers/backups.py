"""Reading and editing a backup folder's manifest in tests (tampering tests, restore tests)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())


def save_manifest(folder: Path, content: dict[str, Any]) -> None:
    (folder / "manifest.json").write_text(json.dumps(content))


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
