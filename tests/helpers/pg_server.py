"""A throwaway PostgreSQL server for tests and benchmarks, started from Debian's binaries.

``PgServer.start()`` finds ``initdb``/``pg_ctl`` under /usr/lib/postgresql/*/bin (or on PATH), makes
a cluster in a temporary folder (as the ``postgres`` user when running as root: initdb refuses
root), starts it on a free port of 127.0.0.1 with its socket in that folder, and ``stop()`` removes
it again. Durability is switched off (fsync, synchronous_commit): the data is thrown away anyway.
The tests' server runs without autovacuum (``autovacuum=False``): a test's database lives for
seconds, and the workers that visited the new databases to vacuum and analyze them only cost the
server CPU (the store runs its own ANALYZE where a plan needs statistics). The benchmarks keep it,
as a real server does.
The tests' server also keeps its cluster in memory (``in_memory=True``: a folder in /dev/shm when
that is a writable tmpfs): copying a template database there cost its server ~0.03 s of CPU
against 0.3-0.45 s in a folder on this machine's disk (measured; the writes of each copy's ~9 MB
and its WAL, even with fsync off), and every PostgreSQL test makes one. ``max_wal_size`` is
small there so that the WAL kept between checkpoints (1 GB by default) does not fill the memory.

Tests that start from the same state (a migrated store, an organisation) build it once per server
as a template database (:meth:`PgServer.template`) and get copies of it (``create_database(
template=...)``), which PostgreSQL makes in milliseconds instead of running the migrations again.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg


def find_bin_dir() -> Path | None:
    """The newest PostgreSQL bin folder holding initdb and pg_ctl, or None."""
    found = []
    for folder in glob.glob("/usr/lib/postgresql/*/bin"):
        version = Path(folder).parent.name
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            found.append((int(version) if version.isdigit() else 0, Path(folder)))
    if found:
        return max(found)[1]
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# a cluster with its template copies and WAL (max_wal_size below) stays well under this; a container's
# /dev/shm is often 64 MB, where the cluster would fail half-way through a run: then the disk
MEMORY_FOLDER_MIN_FREE = 2 * 1024**3


def _memory_folder() -> str | None:
    """/dev/shm when it is a writable folder (a tmpfs on Linux) with room for a cluster, else None."""
    folder = "/dev/shm"
    if not (os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)):
        return None
    room = os.statvfs(folder)
    return folder if room.f_bavail * room.f_frsize >= MEMORY_FOLDER_MIN_FREE else None


class PgServer:
    """One PostgreSQL cluster of our own; create databases on it with :meth:`create_database`."""

    def __init__(self, bin_dir: Path, *, autovacuum: bool = True, in_memory: bool = False):
        self.bin_dir = bin_dir
        self.autovacuum = autovacuum
        self.in_memory = in_memory and _memory_folder() is not None
        self.folder = Path(tempfile.mkdtemp(prefix="salesplan-pg-", dir=_memory_folder() if self.in_memory else None))
        self.data = self.folder / "data"
        self.port = 0
        self._as_postgres = os.geteuid() == 0
        self._templates: set[str] = set()
        # one connection to the "postgres" database for every CREATE and DROP DATABASE: a new one
        # for each (two a test) cost the server a backend's start (~7 ms of CPU) and this process
        # a connect each time
        self._admin: psycopg.Connection[tuple] | None = None
        self._admin_lock = threading.Lock()

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)

    def start(self) -> PgServer:
        """initdb and start; raises RuntimeError with the server's output when that fails."""
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        done = self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                         "--no-locale", "--no-sync")
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stdout}{done.stderr}")
        for _attempt in range(5):  # another worker may take the free port first
            self.port = _free_port()
            options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
                       f"-c autovacuum={'on' if self.autovacuum else 'off'}"
                       + (" -c max_wal_size=256MB -c min_wal_size=32MB" if self.in_memory else ""))
            done = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options,
                             "-w", "-t", "60", "start")
            if done.returncode == 0:
                return self
        log = (self.folder / "server.log").read_text() if (self.folder / "server.log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}{log}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database_url(self, prefix: str = "t") -> str:
        """The URL of a database of a new name, not created yet (see :meth:`replace_database`)."""
        return self.url(f"{prefix}_{uuid.uuid4().hex[:12]}")

    def create_database(self, prefix: str = "t", *, template: str | None = None) -> str:
        """A new database, empty or a copy of the template database ``template`` (made by
        :meth:`template`); returns its URL."""
        url = self.new_database_url(prefix)
        self._create(url.rsplit("/", 1)[1], template)
        return url

    def replace_database(self, url: str, template: str) -> str:
        """Make the database of ``url`` (made already, or only named by :meth:`new_database_url`)
        a fresh copy of the template database ``template``, under the same name (so that every
        fixture naming it still does); returns ``url``."""
        name = url.rsplit("/", 1)[1]
        self.drop_database(url)
        self._create(name, template)
        return url

    def template(self, name: str, build: Callable[[str], object]) -> str:
        """The template database ``name``, made the first time it is asked for by ``build(url)``
        on a new empty database (which must close every connection to it before returning);
        returns ``name`` for :meth:`create_database`. The same name must always mean the same build."""
        if name not in self._templates:
            database = f"template_{name}"
            self._create(database, None)
            try:
                build(self.url(database))
            except BaseException:
                self.drop_database(self.url(database))
                raise
            self._templates.add(name)
        return f"template_{name}"

    def _admin_execute(self, sql: str) -> None:
        """Run ``sql`` (CREATE or DROP DATABASE: autocommit) on the server's kept admin connection,
        connecting again if it was lost (closed, or cut by the server)."""
        with self._admin_lock:
            for attempt in range(2):
                if self._admin is None or self._admin.closed:
                    self._admin = psycopg.connect(self.url(), autocommit=True)
                try:
                    self._admin.execute(sql)
                    return
                except psycopg.OperationalError:
                    if attempt or not self._admin.closed:
                        raise

    def _create(self, name: str, template: str | None) -> None:
        if template is None:
            self._admin_execute(f'CREATE DATABASE "{name}"')
        else:
            # FILE_COPY copies the template's files (and checkpoints twice); the default, WAL_LOG,
            # writes every page of the copy to the WAL as well: in the in-memory cluster, whose
            # test databases are dropped before their pages are ever flushed, that cost the server
            # more (measured over the storage contract's PostgreSQL tests: ~0.011 s of CPU a copy)
            strategy = " STRATEGY FILE_COPY" if self.in_memory else ""
            self._admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self._admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        with self._admin_lock:
            if self._admin is not None:
                self._admin.close()
                self._admin = None
        if self.port:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        for _attempt in range(3):
            shutil.rmtree(self.folder, ignore_errors=True)
            if not self.folder.exists():
                break
            time.sleep(0.2)
