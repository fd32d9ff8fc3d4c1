"""File output and numpy input shared by the commands.

Outputs: every file a command writes goes through :func:`write_files_atomically`. A set of files
is first written in full to temporary files beside the targets, then renamed into place; a failure
before the last rename removes the temporaries and puts back any file already replaced, so readers
see the whole old set or the whole new one (never a new program beside an old manifest).

* A target that is a character device or a FIFO (``/dev/null``, ``/dev/stdout``, a named pipe)
  is written through (opened and written), never replaced by a regular file.
* A symbolic link is followed: the file it points to is replaced, the link stays.
* Temporaries are named ``.NAME.qcomp-tmp-XXXXXXXX``; the ones a killed run left behind (older
  than :data:`STALE_SECONDS`) are removed by the next write into the same directory.

Inputs: :func:`read_numpy` reads ``.npy`` / ``.npz`` files without unpickling and turns every way a
file can be damaged (empty, truncated, not numpy) into a :class:`~qcomp.errors.QCompError`;
:func:`read_csv_numbers` reads CSV files of numbers (an optional header row of names);
:func:`read_json` JSON. (``qcomp.commands.values.read_values_file`` reads param and input values
from any of them and binds them to a program's declarations.)
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import tempfile
import threading
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence, Union

from .errors import InputError, QCompError

if TYPE_CHECKING:
    import numpy as np

_UMASK_LOCK = threading.Lock()

TMP_TAG = ".qcomp-tmp-"
# only names qcomp itself creates: ".<target name>.qcomp-tmp-<random>"
_TMP_NAME = re.compile(r"\..+\.qcomp-tmp-[A-Za-z0-9_]+")
STALE_SECONDS = 60.0
"""A temporary file older than this is a leftover of a killed run (a live write renames its
temporaries within seconds) and is removed by the next write into its directory."""

# /dev/stdout and friends: links to an already open descriptor, written through even when the
# descriptor is a regular file (renaming over it would detach the shell's redirection)
_FD_LINK = re.compile(r"/dev/(stdin|stdout|stderr|fd/\d+)|/proc/(self|thread-self|\d+)/fd/\d+")

Data = Union[bytes, str]


class OutputError(QCompError, OSError):
    """An output file cannot be written (also an OSError, for callers that treat it as one)."""


def _fail(shown: object, exc: BaseException) -> OutputError:
    msg = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return OutputError(f"cannot write '{shown}': {msg}")


@dataclass
class _Target:
    shown: str  # the name the user gave
    path: Path  # the file really written (symlinks followed)
    data: bytes
    direct: bool  # a device, FIFO or descriptor link: written through, not replaced
    existed: bool = False
    tmp: str | None = None
    backup: str | None = None


def _plan(name: str | os.PathLike, data: Data) -> _Target:
    shown = os.fspath(name)
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if _FD_LINK.fullmatch(os.path.abspath(shown)):
        return _Target(shown, Path(shown), raw, direct=True, existed=True)
    path = Path(os.path.realpath(shown))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return _Target(shown, path, raw, direct=False)
    except OSError as exc:  # a symlink loop, a file where a directory should be, ...
        raise _fail(shown, exc) from None
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"cannot write '{shown}': is a directory")
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return _Target(shown, path, raw, direct=True, existed=True)
    if not stat.S_ISREG(st.st_mode):  # a socket or block device: neither replace nor write it
        raise OutputError(f"cannot write '{shown}': not a regular file, character device or FIFO")
    return _Target(shown, path, raw, direct=False, existed=True)


def is_special_output(name: str | os.PathLike) -> bool:
    """True for an output written through rather than replaced (a device, FIFO or /dev/stdout):
    callers skip companion files such as ``NAME.json`` for it."""
    shown = os.fspath(name)
    if _FD_LINK.fullmatch(os.path.abspath(shown)):
        return True
    try:
        mode = os.stat(shown).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def check_writable(names: Iterable[str | os.PathLike | None]) -> None:
    """Refuse, before any work, outputs that cannot be written: a directory, a socket, or a path
    whose nearest existing ancestor is not a writable directory (missing directories below it are
    created when the files are written)."""
    for name in names:
        if not name or os.fspath(name) == "-":
            continue
        t = _plan(name, b"")
        if t.direct:
            continue
        d = t.path.parent
        while not d.exists() and d != d.parent:
            d = d.parent
        if not d.is_dir():
            raise OutputError(f"cannot write '{t.shown}': '{d}' is not a directory")
        if not os.access(d, os.W_OK | os.X_OK):
            why = "read-only file system" if _read_only(d) else "permission denied"
            raise OutputError(f"cannot write '{t.shown}': {why} (directory '{d}')")


def _read_only(d: Path) -> bool:
    try:
        return bool(os.statvfs(d).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def write_files_atomically(files: Mapping[str | os.PathLike, Data]) -> None:
    """Write every ``path -> bytes or text`` (text as UTF-8) so that the old files stay untouched
    unless all the new ones were written: temporaries first, then one rename per file, undone on a
    failure (see the module docstring for devices, FIFOs and symlinks)."""
    targets = [_plan(name, data) for name, data in files.items()]
    seen: dict[Path, str] = {}
    for t in targets:
        if not t.direct and t.path in seen:
            raise OutputError(f"'{t.shown}' and '{seen[t.path]}' are the same file")
        seen[t.path] = t.shown
    regular = [t for t in targets if not t.direct]
    made_dirs: list[Path] = []
    try:
        for t in regular:
            _make_parents(t, made_dirs)
        for d in {t.path.parent for t in regular}:
            clean_stale_temporaries(d)
        for t in regular:
            _write_temporary(t)
        for t in targets:  # devices and FIFOs cannot be rolled back: before any rename
            if t.direct:
                _write_through(t)
        _publish(regular)
    except BaseException as exc:
        for t in regular:
            for name in (t.tmp, t.backup):
                if name:
                    _unlink(name)
        for d in reversed(made_dirs):
            try:
                d.rmdir()
            except OSError:
                pass
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise _fail(targets[0].shown, exc) from None
        raise


def _make_parents(t: _Target, made: list[Path]) -> None:
    missing = []
    d = t.path.parent
    while not d.exists() and d != d.parent:
        missing.append(d)
        d = d.parent
    try:
        for m in reversed(missing):
            m.mkdir()
            made.append(m)
    except FileExistsError:  # created concurrently, or a file in the way
        t.path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _fail(t.shown, exc) from None


def _write_temporary(t: _Target) -> None:
    try:
        fd, t.tmp = tempfile.mkstemp(prefix=f".{t.path.name}{TMP_TAG}", dir=t.path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(t.data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file 0600: give it the mode (and owner) a plain open() would keep
        if t.existed:
            st = os.stat(t.path)
            os.chmod(t.tmp, stat.S_IMODE(st.st_mode))
            if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                try:
                    os.chown(t.tmp, st.st_uid, st.st_gid)
                except OSError:
                    pass
        else:
            os.chmod(t.tmp, 0o666 & ~_umask())
    except OSError as exc:
        raise _fail(t.shown, exc) from None


def _write_through(t: _Target) -> None:
    try:
        mode = os.stat(t.shown).st_mode
        flags = os.O_WRONLY | (os.O_TRUNC if stat.S_ISREG(mode) else 0)
        fd = os.open(t.shown, flags)
        try:
            view = memoryview(t.data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    except OSError as exc:
        raise _fail(t.shown, exc) from None


def _publish(regular: list[_Target]) -> None:
    done: list[_Target] = []
    current: _Target | None = None
    try:
        for current in regular:
            if current.existed:
                current.backup = _link_backup(current.path)
            os.replace(current.tmp, current.path)
            current.tmp = None
            done.append(current)
    except BaseException as exc:
        for t in reversed(done):  # put the old files back (or remove the new ones)
            try:
                if t.backup:
                    os.replace(t.backup, t.path)
                    t.backup = None
                elif not t.existed:
                    os.unlink(t.path)
            except OSError:
                pass
        if isinstance(exc, OSError) and current is not None:
            raise _fail(current.shown, exc) from None
        raise
    for t in regular:
        if t.backup:
            _unlink(t.backup)
            t.backup = None


def _link_backup(path: Path) -> str | None:
    """A second name for the old file, to restore it if a later rename of the set fails
    (None where hard links are not supported: that file then cannot be restored)."""
    for _ in range(8):
        name = str(path.with_name(f".{path.name}{TMP_TAG}{secrets.token_hex(4)}"))
        try:
            os.link(path, name)
            return name
        except FileExistsError:
            continue
        except OSError:
            return None
    return None


def _unlink(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass


def is_temporary_name(name: str) -> bool:
    """True for the name of a temporary file qcomp writes before renaming it into place."""
    return TMP_TAG in name and _TMP_NAME.fullmatch(name) is not None


def clean_stale_temporaries(directory: str | os.PathLike, max_age: float | None = None) -> int:
    """Remove qcomp's own temporaries (``.NAME.qcomp-tmp-XXXX`` regular files neither written
    nor linked for ``max_age`` seconds, default :data:`STALE_SECONDS`) from ``directory``; nothing
    else is touched. Returns how many."""
    max_age = STALE_SECONDS if max_age is None else max_age
    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for e in entries:
        if not is_temporary_name(e.name):
            continue
        try:
            st = e.stat(follow_symlinks=False)
            # ctime: a backup name hard-linked a moment ago to an old file keeps that file's mtime
            if stat.S_ISREG(st.st_mode) and now - max(st.st_mtime, st.st_ctime) > max_age:
                os.unlink(e.path)
                removed += 1
        except OSError:
            pass
    return removed


def _umask() -> int:
    try:  # Linux reports it without changing it (other threads may be creating files)
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:  # elsewhere os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    write_files_atomically({path: data})


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` encoded as UTF-8."""
    write_files_atomically({path: text})


# -- numpy input -----------------------------------------------------------------------------------

CHECKPOINT_PREFIX = "qcomp.train.checkpoint/"
"""The start of the ``format`` entry of a ``qcomp train --save`` checkpoint (.npz)."""


def read_numpy(path: str | os.PathLike, *, what: str = "numpy data", error: type[QCompError] = InputError,
               checkpoint_params: bool = True) -> np.ndarray | dict[str, np.ndarray]:
    """The array of a ``.npy`` file, or the arrays of a ``.npz`` file by name (all read, so a
    damaged member is found here), never unpickling. With ``checkpoint_params`` a checkpoint
    written by ``qcomp train --save`` gives its ``params`` array. Unreadable files, and complex
    arrays (qcomp takes real values), raise ``error`` naming the file."""
    import numpy as np

    single = None
    try:
        with open(path, "rb") as f:
            data = np.load(f, allow_pickle=False)
            if isinstance(data, np.lib.npyio.NpzFile):
                with data:
                    arrays = {k: np.asarray(data[k]) for k in data.files}
            else:
                single = np.asarray(data)
                arrays = {"": single}
    except FileNotFoundError:
        raise error(f"cannot read {what} file '{path}': no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError, NotImplementedError) as exc:
        # empty, truncated or corrupt files, pickled objects, text that is not numpy
        detail = "empty file" if isinstance(exc, EOFError) else (str(exc) or type(exc).__name__)
        raise error(f"cannot read {what} file '{path}' as numpy .npy/.npz: {detail}") from None
    for name, a in arrays.items():
        # numpy would cast complex values to float and drop the imaginary parts with only a warning
        if a.dtype.kind == "c":
            member = f" (array '{name}')" if single is None else ""
            raise error(f"{what} file '{path}'{member} has complex values; qcomp takes real values")
    if single is not None:
        return single
    if checkpoint_params and is_checkpoint(arrays):
        if "params" not in arrays:
            raise error(f"'{path}' is a qcomp train checkpoint without a 'params' array")
        return arrays["params"]
    return arrays


def is_checkpoint(arrays: Mapping[str, np.ndarray]) -> bool:
    """True for the arrays of a ``qcomp train --save`` checkpoint."""
    fmt = arrays.get("format")
    return fmt is not None and fmt.ndim == 0 and fmt.dtype.kind == "U" and str(fmt).startswith(CHECKPOINT_PREFIX)


# -- CSV input -------------------------------------------------------------------------------------

# spreadsheets write U+2212 MINUS SIGN (and some tools other dashes) for negative numbers
_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2012": "-", "\u2013": "-", "\ufe63": "-", "\uff0d": "-"})
_NAME = re.compile(r"[^\W\d]", re.UNICODE)


def _csv_number(cell: str) -> float | None:
    try:
        return float(cell.strip().translate(_MINUS_SIGNS))
    except ValueError:
        return None


def read_csv_numbers(path: str | os.PathLike, *, what: str = "values",
                     error: type[QCompError] = InputError) -> tuple[list[str] | None, list[list[float]]]:
    """The header (or None) and the rows of numbers of a CSV file.

    A UTF-8 byte-order mark is ignored, a Unicode minus sign is read as ``-``, and an empty last
    field on every row (a trailing comma) is no column. The first row is a header only when every
    field is a name (starts with a letter or ``_``); any other field that is not a number is
    refused, naming its line and column, so data is never taken for a header or read shifted.
    """
    import csv

    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            raw = [(reader.line_num, r) for reader in [csv.reader(f)] for r in reader]
    except FileNotFoundError:
        raise error(f"cannot read {what} file '{path}': no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise error(f"cannot read {what} from '{path}': {exc}") from None
    lines = [(n, [c.strip() for c in r]) for n, r in raw if r and any(c.strip() for c in r)]
    if lines and all(len(r) > 1 and r[-1] == "" for _, r in lines):
        lines = [(n, r[:-1]) for n, r in lines]
    header = None
    if lines:
        n, first = lines[0]
        if all(_csv_number(c) is None for c in first) and all(_NAME.match(c) for c in first):
            header, lines = first, lines[1:]
    rows: list[list[float]] = []
    width = len(header) if header is not None else (len(lines[0][1]) if lines else 0)
    for n, r in lines:
        if len(r) != width:
            raise error(f"{path}: line {n} has {len(r)} values; expected {width} like the "
                        f"{'header' if header is not None else 'first row'}")
        row = []
        for col, c in enumerate(r, 1):
            v = _csv_number(c)
            if v is None:
                shown = "an empty field" if c == "" else f"{c!r}, which is not a number"
                raise error(f"{path}: line {n}, column {col}: {shown}")
            row.append(v)
        rows.append(row)
    return header, rows


# -- value files -----------------------------------------------------------------------------------

VALUE_SUFFIXES = (".npy", ".npz", ".json", ".csv")
# the one array of an .npz that stands for the whole value rather than for a declaration of that name
def read_json(path: str | os.PathLike, *, error: type[QCompError] = InputError) -> object:
    """The JSON document of ``path``, or ``error`` naming the file (unreadable, not JSON, too deep)."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        raise error(f"cannot read '{path}': no such file") from None
    except RecursionError:
        raise error(f"'{path}': JSON nested too deeply") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read '{path}': {exc}") from None
    except json.JSONDecodeError as exc:
        raise error(f"'{path}' is not valid JSON: {exc}") from None


__all__ = [
    "OutputError", "STALE_SECONDS", "TMP_TAG", "atomic_write_bytes", "atomic_write_text", "check_writable",
    "clean_stale_temporaries", "is_checkpoint", "is_temporary_name", "is_special_output", "read_csv_numbers", "read_json",
    "read_numpy", "write_files_atomically",
]
