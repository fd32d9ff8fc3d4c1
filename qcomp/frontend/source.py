"""The one reader of source files for the front ends (main files and includes) and the compile cache.

Only regular files are read, and at most MAX_SOURCE_BYTES of them: a device (``/dev/zero``) would
grow memory without bound and a FIFO would block forever. Every problem is a QCompError located at
the include (or naming the main file), never an OSError, and never quotes the file's content: an
include of a file that is not source (``/etc/shadow``) says so instead of echoing its first line
in a parse error.

While ``record_reads()`` is active every file read is reported (path as opened, resolved path,
sha256 and size of the bytes read): the compile cache keys entries by what the front end actually
read instead of guessing the includes from the text.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..errors import IncludeError, QCompError, Span

MAX_SOURCE_BYTES = 64 * 2**20
Q_SUFFIXES = (".q",)
QASM_INCLUDE_SUFFIXES = (".inc", ".qasm", ".qasm2", ".qasm3")

_OPEN_FLAGS = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)

__all__ = ["MAX_SOURCE_BYTES", "SourceRead", "digest_of", "read_source", "read_source_bytes", "record_reads"]


@dataclass(frozen=True)
class SourceRead:
    """One file a front end read: the path it opened, where that resolved to, and what it got."""

    path: str
    resolved: str
    sha256: str
    size: int


_reads: ContextVar[list[SourceRead] | None] = ContextVar("qcomp_source_reads", default=None)


@contextmanager
def record_reads() -> Iterator[list[SourceRead]]:
    """Collect a SourceRead for every file read by read_source/read_source_bytes in this context."""
    reads: list[SourceRead] = []
    token = _reads.set(reads)
    try:
        yield reads
    finally:
        _reads.reset(token)


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "too many levels of symbolic links (a symlink loop?)"
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "no such file"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ENAMETOOLONG:
        return "file name too long"
    return exc.strerror or type(exc).__name__


def _not_regular(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return f"it is {kind}, not a regular file"
    return "it is not a regular file"


class _Fail(Exception):
    def __init__(self, reason: str, missing: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.missing = missing


def _read_regular(path: str, limit: int) -> tuple[bytes, os.stat_result]:
    """The bytes of regular file ``path`` (at most ``limit``), else raises _Fail with the reason."""
    try:
        st = os.stat(path)  # refuse FIFOs and devices before opening them (opening a tape rewinds it)
    except OSError as exc:
        raise _Fail(_os_reason(exc), exc.errno in (errno.ENOENT, errno.ENOTDIR)) from None
    if not stat.S_ISREG(st.st_mode):
        raise _Fail(_not_regular(st.st_mode))
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO since the stat, opening it does not hang
        fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    except OSError as exc:
        raise _Fail(_os_reason(exc), exc.errno in (errno.ENOENT, errno.ENOTDIR)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # what was opened, not what was stat'ed, decides
            raise _Fail(_not_regular(st.st_mode))
        chunks: list[bytes] = []
        total = 0
        while total <= limit:  # at most limit + 1 bytes: enough to tell that the file is too large
            chunk = os.read(fd, min(limit + 1 - total, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise _Fail(_os_reason(exc)) from None
    finally:
        os.close(fd)
    if total > limit:
        raise _Fail(f"it is larger than the limit of {limit // 2**20} MiB for source files"
                    if limit >= 2**20 else f"it is larger than the limit of {limit} bytes for source files")
    return b"".join(chunks), st


def read_source_bytes(path: str | os.PathLike, *, name: str | None = None, span: Span | None = None,
                      error: type[QCompError] = IncludeError, what: str = "include file",
                      missing: str | None = None, suffixes: tuple[str, ...] | None = None,
                      limit: int | None = None) -> tuple[bytes, str]:
    """(content, resolved path) of source file ``path``; problems raise ``error`` at ``span``.

    ``name`` is the path as the user wrote it (for messages), ``missing`` the message for a file
    that does not exist, ``suffixes`` the file name endings accepted (None: any).
    """
    p = os.fspath(path)
    shown = str(name if name is not None else p)
    label = f"{what} " if what else ""

    def fail(reason: str) -> QCompError:
        return error(f"cannot read {label}'{shown}': {reason}", span)

    if "\0" in p or "\0" in shown:
        shown = shown.replace("\0", "\\0")
        raise fail("the file name contains a NUL byte")
    if suffixes is not None and not shown.lower().endswith(suffixes):
        raise fail(f"not a {' or '.join(suffixes)} file")
    try:
        data, _ = _read_regular(p, MAX_SOURCE_BYTES if limit is None else limit)
    except _Fail as f:
        if f.missing and missing is not None:
            raise error(missing, span) from None
        raise fail(f.reason) from None
    resolved = os.path.realpath(p)
    if suffixes is not None and not resolved.lower().endswith(suffixes):
        # a symlink x.q -> /etc/shadow must not get the file parsed and its first line quoted
        raise fail(f"it resolves to '{resolved}', not a {' or '.join(suffixes)} file")
    reads = _reads.get()
    if reads is not None:
        reads.append(SourceRead(p, resolved, hashlib.sha256(data).hexdigest(), len(data)))
    return data, resolved


def read_source(path: str | os.PathLike, **kw) -> tuple[str, Path]:
    """(text, resolved path) of source file ``path``: read_source_bytes, decoded as UTF-8.

    A byte-order mark is dropped; content that is not UTF-8 is refused without quoting it.
    """
    data, resolved = read_source_bytes(path, **kw)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        what = kw.get("what", "include file")
        shown = str(kw.get("name") or os.fspath(path))
        raise kw.get("error", IncludeError)(
            f"cannot read {what + ' ' if what else ''}'{shown}': it is not UTF-8 text", kw.get("span")) from None
    return text, Path(resolved)


def digest_of(path: str, limit: int | None = None) -> tuple[str, str] | None:
    """(resolved path, sha256) of regular file ``path`` read as the front end would, or None if it
    cannot be read (for the cache's re-validation: any problem there only means "changed")."""
    try:
        data, _ = _read_regular(path, MAX_SOURCE_BYTES if limit is None else limit)
    except (_Fail, ValueError):  # ValueError: a NUL byte in the name
        return None
    return os.path.realpath(path), hashlib.sha256(data).hexdigest()
