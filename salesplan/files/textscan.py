"""The checks of an upload's bytes a chunk at a time: what its UTF-8 text holds (:class:`_TextScan`),
and its SHA-256 (:class:`_Sha256`, hashed beside the checks)."""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path

import numpy as np

from salesplan.files.stream import Upload


class _Sha256:
    """The SHA-256 of an upload's bytes (all of them, from its first byte).

    With ``threaded`` (an upload of several chunks) a thread of its own reads and hashes them
    while the checks read their chunks: hashlib lets the GIL go while it hashes, so the hash
    (~0.05 CPU-s for 71 MB) takes the second core instead of adding to the checks' time. The
    thread reads the file itself, 4 MB at a time into one buffer, and needs the GIL only between
    them (chunks handed over by the checks made the two threads wait on each other). Otherwise
    the checks hand each chunk to :meth:`update`. Use it as a context manager: leaving it stops
    and ends the thread, whatever happens."""

    def __init__(self, upload: Upload, threaded: bool):
        self._digest = hashlib.sha256()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        if threaded:
            self._thread = threading.Thread(target=self._run, args=(upload.data, upload.path),
                                            name="salesplan-sha256", daemon=True)
            self._thread.start()

    def _run(self, data: bytes | None, path: Path | None) -> None:
        try:
            if data is not None:
                view = memoryview(data)
                for start in range(0, len(view), _HASH_BYTES):
                    if self._stop.is_set():
                        return
                    self._digest.update(view[start:start + _HASH_BYTES])
                return
            assert path is not None
            buffer = bytearray(_HASH_BYTES)
            view = memoryview(buffer)
            with open(path, "rb") as file:
                while not self._stop.is_set() and (count := file.readinto(buffer)):
                    self._digest.update(view[:count])
        except BaseException as error:  # noqa: BLE001 - raised again by hexdigest()
            self._failure = error

    def update(self, chunk: bytes) -> None:
        """The next chunk of the upload, from the checks (nothing to do when the thread reads them)."""
        if self._thread is None:
            self._digest.update(chunk)

    def stop(self) -> None:
        """The hash is not wanted (the upload is refused): the thread stops at its next read."""
        self._stop.set()

    def hexdigest(self) -> str:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._failure is not None:
            raise self._failure
        return self._digest.hexdigest()

    def __enter__(self) -> _Sha256:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None


_HASH_BYTES = 4 * 1_048_576


# what a byte that starts a line may start: 1 a blank line (a space, a tab, a line end), 2 a blank
# first cell (an ASCII space Arrow counts, a line end, a byte beyond ASCII; the delimiter is added
# per file)
_STARTS = np.zeros(256, dtype=np.uint8)
_STARTS[[9, 10, 13, 32]] |= 1
_STARTS[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32, *range(128, 256)]] |= 2


class _TextScan:
    """What the checks need to know of a file's UTF-8 text, gathered a chunk at a time (any
    sizes: a line, a character or a space may cross a chunk's edge): its size, newlines, whether
    it holds a quote character or a blank line, for a file without quotes whether a line starts
    with a blank cell (``blank_start``), and whether a cell may be padded (``padded``:
    a cell may start or end with a character DuckDB's ``trim`` removes, the space and the other
    Unicode space separators; False only when no such character stands next to a delimiter, a
    line end or the file's end, and no cell is quoted. The parser trims every cell only then)."""

    def __init__(self, delimiter: str, sample: str = ""):
        self.sample = sample  # the first characters, which the delimiter was sniffed on
        self.delimiter = delimiter
        self._delimiter_byte = ord(delimiter)
        self.size = 0
        self.newlines = 0
        self.quote = False
        self.blank_line = False  # a line of nothing but spaces, tabs or a carriage return (or empty)
        # (a blank start is not looked for once a quote is found)
        # a line starts with the delimiter, a space (ASCII's, or any byte beyond ASCII) or a line
        # end: only then can a record of a file without quotes or blank lines (the plain read,
        # a line per record) have an empty or blank first cell, which a blank record has
        self.blank_start = False
        self._starts = _STARTS.copy()
        self._starts[self._delimiter_byte] |= 2
        # False when no cell can start or end with a space (see :attr:`RawTable.padded`)
        self.padded = False
        self._line_blank = True  # the line read so far holds nothing but spaces, tabs and CRs
        self._last = -1  # the last byte read
        self._last_spacey = False

    def feed(self, chunk: bytes, ascii_only: bool | None = None) -> int:
        """Read the next chunk; returns its count of newlines. ``ascii_only``: whether the chunk
        holds nothing but ASCII, when the caller knows (None: asked here when needed)."""
        if not chunk:
            return 0
        if not self.quote and b'"' in chunk:
            self.quote = True
        buffer = np.frombuffer(chunk, dtype=np.uint8)
        newlines = np.flatnonzero(buffer == 10)  # quicker than bytes.count, and wanted below
        self.newlines += len(newlines)
        if not self.blank_line:
            # a blank start matters only to the plain read, of a file without quotes
            if not self.quote and (self.size == 0 or self._last == 10) and self._starts[chunk[0]] & 2:
                self.blank_start = True  # the line starting the file or this chunk
            self._blank_lines(chunk, buffer, newlines)
        if not self.padded and not self.quote:
            self._padding(chunk, buffer, chunk.isascii() if ascii_only is None else ascii_only)
        self._last = chunk[-1]
        self.size += len(chunk)
        return len(newlines)

    def finish(self) -> None:
        # the last line counts unless the file ends with a newline (then it is no line at all)
        if self.size == 0 or (self._last != 10 and self._line_blank):
            self.blank_line = True
        # a quoted cell may hold spaces inside its quotes; a space ending the file ends a cell
        self.padded = self.size > 0 and (self.padded or self.quote or self._last_spacey)

    @property
    def records(self) -> int:
        """The lines of the text: its newlines, plus one unless it ends with a newline."""
        return self.newlines + (self._last != 10)

    def _blank_lines(self, chunk: bytes, buffer: np.ndarray, newlines: np.ndarray) -> None:
        if len(newlines) == 0:
            self._line_blank = self._line_blank and not chunk.translate(None, b" \t\r")
            return
        first, last = int(newlines[0]), int(newlines[-1])
        if self._line_blank and not chunk[:first].translate(None, b" \t\r"):
            self.blank_line = True  # the line that ends at the chunk's first newline
            return
        # a blank line inside the chunk starts at a newline followed by one of these bytes: only
        # then is it looked for (a regular expression over every chunk costs more than this)
        kinds = self._starts.take(buffer.take(newlines[newlines < len(buffer) - 1] + 1))
        if not self.blank_start and np.any(kinds & 2):
            self.blank_start = True
        if np.any(kinds & 1):
            if _BLANK_LINE.search(chunk, first):
                self.blank_line = True
                return
        self._line_blank = not chunk[last + 1:].translate(None, b" \t\r")

    def _padding(self, chunk: bytes, buffer: np.ndarray, ascii_only: bool) -> None:
        """Whether a space (or any character beyond ASCII: the other spaces trim removes are such
        characters) stands next to a delimiter, a line end or an end of the file. Numpy, not a
        search of the bytes for " ," and the like (each such search reads the whole file slowly)."""
        ends = (self._delimiter_byte, 10, 13)
        if self._last_spacey and chunk[0] in ends:
            self.padded = True  # the space ending the last chunk stood before a line end or delimiter
            return
        self._last_spacey = False
        if ascii_only and b" " not in chunk:
            return
        positions = np.flatnonzero((buffer == 32) | (buffer >= 128))
        if len(positions) == 0:
            return
        if positions[0] == 0 and (self.size == 0 or self._last in ends):
            self.padded = True  # at the start of the file, or after a line end or delimiter
            return
        inside = positions[positions > 0]
        neighbours = np.concatenate((buffer[inside - 1], buffer[positions[positions < len(buffer) - 1] + 1]))
        if np.any((neighbours == ends[0]) | (neighbours == 10) | (neighbours == 13)):
            self.padded = True
            return
        self._last_spacey = bool(positions[-1] == len(buffer) - 1)


# a line of nothing but spaces, tabs or a carriage return, between two newlines
_BLANK_LINE = re.compile(rb"\n[ \t\r]*\n")
