"""Starting databases built once per test run and copied for every test that starts from them.

Migrating a new database runs every migration (tens of statements) and importing even a small
reps list costs a few tenths of a second; a closed DuckDB file copies in milliseconds and
PostgreSQL copies a database with ``CREATE DATABASE ... TEMPLATE``. :func:`template` builds the
DuckDB file of a name the first time a test process asks for it, in a folder all xdist workers of
the run share (pytest's base temporary folder, set by tests/conftest.py; pytest removes it itself
after a few runs), under a file lock so that two workers never build the same one at once. The
file is built under a temporary name and closed before it is renamed, so a copy is exactly what
the build left: the same rows, ids and sequences, with no write-ahead log.

:func:`duckdb_copy` (and, for either backend,
``tests.helpers.storage_fixtures.from_template``) give a test its own copy; ``MIGRATED`` is an empty
migrated store (what ``Store.open`` makes of a new database); the fixtures that use the others
name and build them (tests/conftest.py, tests/storage/conftest.py).
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from salesplan.store import Store

# Set by the session fixture in tests/conftest.py to the folder the run's processes share; without
# it (a helper used outside pytest) each process builds its templates in a folder of its own.
shared_folder: Path | None = None
_built: dict[str, Path] = {}

Build = Callable[[Store], object]  # fills a freshly migrated store
MIGRATED = "migrated"  # the template of an empty migrated store (no build)


def _folder() -> Path:
    global shared_folder
    if shared_folder is None:
        shared_folder = Path(tempfile.mkdtemp(prefix="salesplan-test-templates-"))
        atexit.register(shutil.rmtree, shared_folder, ignore_errors=True)
    return shared_folder


def template(name: str, build: Build | None = None) -> Path:
    """The DuckDB file of the starting state ``name``: a new store migrated, then filled by
    ``build`` (nothing: an empty migrated store), built once per run. Tests must not open it for
    writing (copy it with :func:`duckdb_copy`). The same name must always mean the same build."""
    if name not in _built:
        folder = _folder() / "templates"
        folder.mkdir(exist_ok=True)
        path = folder / f"{name}.duckdb"
        with (folder / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building it right now
            if not path.exists():
                building = path.with_name(f"{name}.{os.getpid()}.building.duckdb")
                with Store.open(building) as store:
                    if build is not None:
                        build(store)
                os.replace(building, path)  # complete or absent: a failed build leaves no template
        _built[name] = path
    return _built[name]


def duckdb_copy(target: str | os.PathLike[str], name: str, build: Build | None = None) -> Path:
    """A private copy of the template ``name`` (see :func:`template`) as the file ``target``."""
    target = Path(target)
    shutil.copyfile(template(name, build), target)
    return target


def open_copy(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> Store:
    """A store on a private copy of the closed database file ``source`` (a module's or the run's
    template), made as the file ``target``; use it in a ``with`` block."""
    shutil.copyfile(source, target)
    return Store.open(target)
