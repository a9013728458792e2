"""Demo organisations for tests, each built once per test run and copied for every test that uses it.

Loading a demo (``salesplan.demo.load_demo``) costs seconds of CPU; a closed DuckDB file copies in
milliseconds. ``demo_copy`` gives a test a private copy of the demo of (reps, seed, today); the
template behind it is built by the first test process that needs it, once for all xdist workers
of the run (tests/helpers/templates.py). Tests that check ``load_demo`` itself still call it.
``generated`` gives the demo's files of (reps, seed, today), generated once per test process for
the modules that only read them.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import date
from functools import cache
from pathlib import Path

from salesplan.demo import DemoData, generate, load_demo
from salesplan.store import Store
from tests.helpers import templates


def demo_template(reps: int, seed: int, today: date) -> Path:
    """The database file of the demo organisation of ``reps`` reps, ``seed`` and ``today``, built
    once per run; tests must not open it for writing (copy it with :func:`demo_copy`)."""

    def build(store: Store) -> None:
        load_demo(store, reps=reps, seed=seed, today=today)

    return templates.template(f"demo-{reps}-{seed}-{today.isoformat()}", build)


def demo_copy(folder: Path, *, reps: int, seed: int, today: date, name: str = "demo.duckdb") -> Path:
    """A private copy of the demo database of (reps, seed, today) as ``folder / name``."""
    target = folder / name
    shutil.copyfile(demo_template(reps, seed, today), target)
    return target


@cache
def generated(reps: int, seed: int, today: date) -> DemoData:
    """The demo's files of (reps, seed, today) (``salesplan.demo.generate``), generated once per test
    process for every module that reads them (~0.04 s of CPU per rep); tests must not change them."""
    folder = Path(tempfile.mkdtemp(prefix=f"salesplan-demo-{reps}-{seed}-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return generate(folder, reps=reps, seed=seed, today=today)
