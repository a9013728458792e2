"""Progress of a long import and its time estimate."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from salesplan.imports.fields import ImportResult

# ============================================================================ progress
# what an import reads per second on the benchmark machine (BENCHMARKS.md), for the estimate
# shown before a long import starts; a workbook is slower per byte (it is compressed XML)
ESTIMATE_MB_PER_SECOND = {"csv": 20.0, "workbook": 2.0}
LONG_IMPORT_SECONDS = 3.0


def estimate_seconds(size_bytes: int, workbook: bool = False) -> float:
    """About how long an import of a file of this size takes (the rate of ESTIMATE_MB_PER_SECOND)."""
    return size_bytes / 1_048_576 / ESTIMATE_MB_PER_SECOND["workbook" if workbook else "csv"]


@dataclass
class ImportProgress:
    """The stages of one import, told to ``progress(fraction, text)`` with rows per second.

    ``fraction`` grows from 0 to 1; ``text`` names the stage, the rows and their rate, and before
    the work starts the estimate from the file's size. ``rows``, ``seconds`` and ``rows_per_second``
    hold the latest figures for callers that show them their own way.
    """

    callback: Callable[[float, str], None] | None
    rows: int = 0
    seconds: float = 0.0
    started: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def __call__(self, fraction: float, text: str) -> None:
        if self.callback is not None:
            self.callback(fraction, text)

    def start(self, name: str, size_bytes: int) -> None:
        self.started = time.perf_counter()
        workbook = name.lower().endswith((".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"))
        estimate = estimate_seconds(size_bytes, workbook)
        about = f"; about {estimate:,.0f} s" if estimate >= LONG_IMPORT_SECONDS else ""
        self(0.02, f"Reading {name} ({size_bytes / 1_048_576:.1f} MB{about})")

    def stage(self, fraction: float, what: str, rows: int) -> None:
        self.rows = rows
        self.seconds = time.perf_counter() - self.started
        self(fraction, f"{what} {rows:,} rows ({self.seconds:.1f} s so far, {self.rows_per_second:,.0f} rows/s)")

    def done(self, result: ImportResult) -> None:
        self.seconds = time.perf_counter() - self.started
        rows = result.inserted + result.updated + result.unchanged + result.rejected
        self.rows = rows or self.rows
        self(1.0, f"Imported {result.file_name}: batch {result.batch_id}, {self.rows:,} rows in {self.seconds:.1f} s "
                  f"({self.rows_per_second:,.0f} rows/s)")
