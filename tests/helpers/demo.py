"""Demo organisations for tests, each built once per test run and copied for every test that uses it.

Loading a demo (``salesplan.demo.load_demo``) costs seconds of CPU; a closed DuckDB file copies in
milliseconds. ``demo_copy`` gives a test a private copy of the demo of (reps, seed, today); the
template behind it is built by the first test process that needs it, in a folder all xdist workers
of the run share (pytest's base temporary folder, which pytest removes itself after a few runs),
under a file lock so that two workers never build the same one at once. Tests that check
``load_demo`` itself still call it.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import tempfile
from datetime import date
from pathlib import Path

from salesplan.demo import load_demo
from salesplan.store import Store

# Set by the session fixture in tests/conftest.py to the folder the run's processes share; without
# it (a helper used outside pytest) each process builds its templates in a folder of its own.
shared_folder: Path | None = None
_built: dict[tuple[int, int, date], Path] = {}


def _folder() -> Path:
    global shared_folder
    if shared_folder is None:
        shared_folder = Path(tempfile.mkdtemp(prefix="salesplan-demo-templates-"))
        atexit.register(shutil.rmtree, shared_folder, ignore_errors=True)
    return shared_folder


def demo_template(reps: int, seed: int, today: date) -> Path:
    """The database file of the demo organisation of ``reps`` reps, ``seed`` and ``today``, built
    once per run; tests must not open it for writing (copy it with :func:`demo_copy`)."""
    key = (reps, seed, today)
    if key not in _built:
        folder = _folder() / "demo-templates"
        folder.mkdir(exist_ok=True)
        path = folder / f"demo-{reps}-{seed}-{today.isoformat()}.duckdb"
        with (folder / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building it right now
            if not path.exists():
                building = path.with_name(f"{path.stem}.{os.getpid()}.building.duckdb")
                with Store.open(building) as store:
                    load_demo(store, reps=reps, seed=seed, today=today)
                os.replace(building, path)  # complete or absent: a failed build leaves no template
        _built[key] = path
    return _built[key]


def demo_copy(folder: Path, *, reps: int, seed: int, today: date, name: str = "demo.duckdb") -> Path:
    """A private copy of the demo database of (reps, seed, today) as ``folder / name``."""
    target = folder / name
    shutil.copyfile(demo_template(reps, seed, today), target)
    return target
