"""An upload read a chunk at a time: its bytes in memory (the Upload page) or a file on disk (the
command line, the benchmark), so that no check has to hold a large file whole in Python.

Every check of a CSV file (size, SHA-256, lines, encoding, blank lines, quotes, padded cells, the
records and their widths) is worked out over chunks of :data:`CHUNK_BYTES`; DuckDB's reader then
opens the file itself (the upload's own file when its bytes are UTF-8, else a UTF-8 copy written
chunk by chunk into the read's private folder). A 0.7 GB export was held whole in Python beside
DuckDB's reader and its cells (docs/security.md: the memory an upload may take).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from salesplan.errors import BadInput
from salesplan.files.limits import MB, _check_size

CHUNK_BYTES = 4 * MB  # small enough for the numpy scans' temporary arrays, large enough to cost no calls


class Upload:
    """A file to read: ``data`` (bytes in memory) or ``path`` (a regular file on disk), from
    byte ``offset`` on (a BOM the reader skips itself). ``name`` is the name problems are
    reported under."""

    def __init__(self, name: str, *, data: bytes | None = None, path: Path | None = None, offset: int = 0):
        self.name = name
        self.data = data
        self.path = path
        self.offset = offset
        self._stat: os.stat_result | None = None
        if data is not None:
            self.size = len(data)
        else:
            assert path is not None
            self._stat = os.stat(path)
            self.size = self._stat.st_size

    def chunks(self, chunk_bytes: int | None = None) -> Iterator[bytes]:
        """The bytes from ``offset`` on, ``chunk_bytes`` (default :data:`CHUNK_BYTES`) at a time.
        Raises OSError when the file on disk cannot be read."""
        size = chunk_bytes or CHUNK_BYTES
        if self.data is not None:
            if self.offset == 0 and len(self.data) <= size:
                if self.data:
                    yield self.data  # a small upload: the bytes themselves, no copy
                return
            for start in range(self.offset, len(self.data), size):
                yield self.data[start:start + size]
            return
        assert self.path is not None
        with open(self.path, "rb") as file:
            file.seek(self.offset)
            while chunk := file.read(size):
                yield chunk

    def head(self, count: int) -> bytes:
        """The first ``count`` bytes from ``offset`` on (fewer at the end of the file). Raises OSError
        when the file on disk cannot be read."""
        if self.data is not None:
            return self.data[self.offset:self.offset + count]
        assert self.path is not None
        with open(self.path, "rb") as file:
            file.seek(self.offset)
            return file.read(count)

    def read_all(self) -> bytes:
        """The whole file (from ``offset`` on) as bytes: for workbooks, whose readers need them.
        Raises OSError when the file on disk cannot be read."""
        if self.data is not None:
            return self.data if self.offset == 0 else self.data[self.offset:]
        return self.head(self.size)

    def on_disk(self, folder: str) -> Path:
        """A file DuckDB's reader can open holding these bytes (all of them: a BOM at the start is
        skipped by the reader): the upload's own file, or its bytes written into ``folder``, after
        which the bytes in memory are let go (this upload reads that file from then on). Raises
        OSError when ``folder`` cannot be written."""
        if self.data is not None:
            path = Path(folder) / "upload.csv"
            with open(path, "wb") as file:
                file.write(self.data)
            self.data, self.path = None, path
            self._stat = os.stat(path)
        assert self.path is not None
        return self.path

    def release(self) -> None:
        """Let the bytes in memory go (a copy of the text is read from now on)."""
        self.data = None

    def check_unchanged(self) -> None:
        """Raise BadInput when the file on disk is no longer the one first read (written to while
        it was checked and read: its hash, lines and cells would describe different bytes)."""
        if self.path is None or self._stat is None:
            return
        try:
            now = os.stat(self.path)
        except OSError as error:
            raise BadInput.single(self.name, "the file was removed while it was read") from error
        before = self._stat
        # ctime too: a rewrite can put mtime back (os.utime), not ctime (the hash thread reads the
        # file apart from the checks, so this is what ties its hash to the bytes checked)
        if (now.st_size, now.st_mtime_ns, now.st_ctime_ns, now.st_ino, now.st_dev) != (
            before.st_size, before.st_mtime_ns, before.st_ctime_ns, before.st_ino, before.st_dev,
        ):
            raise BadInput.single(self.name, "the file changed while it was read: import it again once it is complete")


def open_upload(source: str | os.PathLike[str] | bytes, file_name: str | None = None, *,
                limit_bytes: int | None = None) -> Upload:
    """The upload of a path or of bytes, and the name to report problems under, without reading a
    file on disk into memory (its chunks are read by the checks). A file over ``limit_bytes`` is
    refused before anything is read. Raises BadInput for a missing, unreadable or oversized file
    or a directory."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return Upload(file_name or "upload", data=bytes(source))
    path = Path(source)
    name = file_name or path.name
    shown = file_name or str(path)
    try:
        if limit_bytes is not None and path.is_file():
            _check_size(path.stat().st_size, name, limit_bytes)
        with open(path, "rb") as file:  # the errors of a file that cannot be read, raised here
            if not os.path.isfile(path):
                # a pipe or a device: read whole, as it cannot be read twice
                data = file.read() if limit_bytes is None else file.read(limit_bytes + 1)
                if limit_bytes is not None:
                    _check_size(len(data), name, limit_bytes)
                return Upload(name, data=data)
        return Upload(name, path=path)
    except FileNotFoundError as error:
        raise BadInput.single(shown, "file not found") from error
    except IsADirectoryError as error:
        raise BadInput.single(shown, "is a directory, not a file") from error
    except PermissionError as error:
        raise BadInput.single(shown, "permission denied: the file cannot be read") from error


def copy_without(source: Upload, target: Path, ranges: list[tuple[int, int]]) -> None:
    """Write ``source`` (from its offset on) into ``target`` without the byte ranges [start, end)
    (offsets from the source's offset, sorted, not overlapping), chunk by chunk. Raises OSError
    when the source cannot be read or the target written."""
    with open(target, "wb") as out:
        position, index = 0, 0  # the offset of the chunk's first byte; the next range to skip
        for chunk in source.chunks():
            view, end = memoryview(chunk), position + len(chunk)
            cursor = position  # the first byte of the chunk not yet written or skipped
            while index < len(ranges) and ranges[index][0] < end:
                start, stop = ranges[index]
                if start > cursor:
                    out.write(view[cursor - position:start - position])
                cursor = max(cursor, min(stop, end))
                if stop > end:
                    break  # the range goes on into the next chunk
                index += 1
            if cursor < end:
                out.write(view[cursor - position:])
            position = end


__all__ = ["CHUNK_BYTES", "Upload", "copy_without", "open_upload"]
