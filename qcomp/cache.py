"""On-disk compile cache: compiled artifacts keyed by what the front end read, options and qcomp version.

An entry is one file ``<dir>/<kind>/<key>.qcc``: a fixed header (magic, format version, payload
length, HMAC-SHA256 of kind, key and payload) followed by a pickle of ``{"kind", "key", "object"}``.
The HMAC key is 32 random bytes in ``<dir>/hmac-key`` (mode 0600, created once with O_EXCL), so
only a process that can read that file can make an entry that loads: nothing is unpickled before
its HMAC verified. Directories are created 0700 and entries 0600 whatever the umask; the owner
(the effective uid) and mode (no group/other write) of the cache directory, of every directory
inside it on an entry's path, of the key file and of every entry read are checked. An entry that
fails any check (tampered, truncated, old format, wrong owner or mode, for another kind or key, not
unpicklable, wrong type) is ignored with a ``CacheWarning`` and rebuilt, never an error. Writers
use a temporary file and ``os.replace``, so concurrent processes writing the same key leave one
whole entry. A cache directory that cannot be created, read or written, or that other users can
write to, gives one warning and compilation runs uncached.

The key of a compiled program covers the source text, its name and directory, the compile
options, ``qcomp.__version__``, a fingerprint of qcomp's own source files, and the path, resolved
path and sha256 of every file the front end actually read (includes of includes too), as reported
by ``qcomp.frontend.source.record_reads``. Those are known only after a front-end run, so they are
kept in an ``includes`` entry under the key of the rest: ``source_key`` re-reads every recorded
file (regular files only, as the front end does) and uses the recorded list only if all digests
still match; otherwise it runs the front end, records what it read, and hands the program it built
to the ``get_or_build`` that follows.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import importlib.util
import json
import os
import pickle
import re
import secrets
import stat
import struct
import sys
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

__all__ = [
    "CacheWarning",
    "CompileCache",
    "cache_dir",
    "cache_enabled",
    "default_cache",
    "source_key",
    "derive_key",
    "code_fingerprint",
    "ENV_DIR",
    "ENV_DISABLE",
]

ENV_DIR = "QCOMP_CACHE_DIR"
ENV_DISABLE = "QCOMP_NO_CACHE"
MAGIC = b"QCOMPCACHE"
FORMAT_VERSION = 2
# magic, format version, payload length, HMAC-SHA256(kind, key, payload)
HEADER = struct.Struct(">10sHQ32s")
SUFFIX = ".qcc"
KEY_FILE = "hmac-key"
KEY_BYTES = 32
# an entry is read whole; anything larger is not one qcomp wrote for a sane program
MAX_ENTRY_BYTES = 1 << 31
_KIND_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)

T = TypeVar("T")


class CacheWarning(UserWarning):
    """A cache problem that was handled (entry rebuilt, or compilation ran uncached)."""


def _warn(message: str) -> None:
    warnings.warn(message, CacheWarning, stacklevel=3)


class _Untrusted(Exception):
    """An entry, directory or key file failed a check: ignore it."""


def _euid() -> int | None:
    return os.geteuid() if hasattr(os, "geteuid") else None


def _check_owner_mode(st: os.stat_result, what: str, private: bool = False) -> None:
    """Raise _Untrusted unless ``st`` belongs to us and no one else can write (or, ``private``, read) it."""
    uid = _euid()
    if uid is None:
        return
    if st.st_uid != uid:
        raise _Untrusted(f"{what} is owned by uid {st.st_uid}, not {uid}")
    bad = 0o077 if private else 0o022
    if st.st_mode & bad:
        raise _Untrusted(f"{what} has mode {stat.S_IMODE(st.st_mode):04o} (group or others can "
                         f"{'access' if private else 'write'} it)")


# -- location and switches -------------------------------------------------------------------


def cache_dir() -> Path:
    """``$QCOMP_CACHE_DIR``, else ``$XDG_CACHE_HOME/qcomp``, else ``~/.cache/qcomp``."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "qcomp"


def cache_enabled(flag: bool = True) -> bool:
    """``flag`` unless ``QCOMP_NO_CACHE`` is set to a true value (1, yes, true)."""
    return bool(flag) and os.environ.get(ENV_DISABLE, "").strip().lower() not in ("1", "yes", "true", "on")


def default_cache(enabled: bool = True) -> CompileCache | None:
    """The cache at ``cache_dir()``, or None when disabled (``enabled=False`` / ``QCOMP_NO_CACHE``)."""
    return CompileCache(cache_dir()) if cache_enabled(enabled) else None


# -- keys ----------------------------------------------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 over qcomp's own source files (qcomp, qcomp.passes, qcomp.grammar), once per process."""
    h = hashlib.sha256()
    for pkg in ("qcomp", "qcomp.passes", "qcomp.grammar"):
        spec = importlib.util.find_spec(pkg)
        for root in (spec.submodule_search_locations or []) if spec else []:
            rootp = Path(root)
            for f in sorted(rootp.rglob("*")):
                if f.suffix in (".py", ".lark") and f.is_file() and "__pycache__" not in f.parts:
                    h.update(f"{pkg}/{f.relative_to(rootp).as_posix()}\0".encode())
                    h.update(f.read_bytes())
    return h.hexdigest()


def _digest(obj: Any) -> str:
    return _sha(json.dumps(obj, sort_keys=True, default=str).encode())


# Programs that source_key had to build (to learn which files the front end reads), handed to the
# get_or_build that follows it; bounded, so one never claimed is soon dropped.
_PREBUILT: dict[tuple[str, str], Any] = {}
_PREBUILT_MAX = 4

Manifest = list[tuple[str, str, str]]  # (path as opened, resolved path, sha256 of the bytes read)


def _manifest_ok(obj: Any) -> bool:
    return isinstance(obj, list) and all(
        isinstance(t, tuple) and len(t) == 3 and all(isinstance(x, str) for x in t) for t in obj)


def _unchanged(manifest: Manifest) -> bool:
    """Every recorded file still resolves to the same file with the same content (stat + hash)."""
    from .frontend.source import digest_of

    return all(digest_of(path) == (resolved, sha) for path, resolved, sha in manifest)


def source_key(text: str, name: str, base_dir: str | os.PathLike | None, options: Mapping[str, Any],
               front_end: Callable[[], Any], store: CompileCache | None = None) -> str:
    """The cache key of compiling ``text`` (file ``name``, includes relative to ``base_dir``) with
    front-end ``options`` (max_qubits, max_ops): source, options, compiler, and every file read.

    ``store`` (default: the cache at ``cache_dir()``) holds the list of files the last front-end
    run on this source read; when one of them changed or there is none, ``front_end()`` (which
    lowers ``text`` with ``options``) runs here (errors in the source are raised here) and its
    program is used by the next ``get_or_build("program", key, ...)``.
    """
    from . import _version
    from .frontend.source import record_reads

    base = _digest({
        "qcomp": _version.__version__,
        "code": code_fingerprint(),
        "python": list(sys.version_info[:2]),  # pickles of one Python need not load in another
        "name": name,
        "dir": str(Path(base_dir).resolve() if base_dir is not None else Path.cwd()),
        "source": _sha(text.encode("utf-8")),
        "options": dict(options),
    })
    if store is None:
        store = default_cache()
    if store is not None and store.usable():
        recorded = store.get("includes", base, list)
        if recorded is not None and _manifest_ok(recorded) and _unchanged(recorded):
            return derive_key(base, read=recorded)
    with record_reads() as reads:
        program = front_end()
    manifest = [(r.path, r.resolved, r.sha256) for r in reads]
    key = derive_key(base, read=manifest)
    if store is not None and store.usable():
        store.put("includes", base, manifest)
    _PREBUILT[("program", key)] = program
    while len(_PREBUILT) > _PREBUILT_MAX:
        del _PREBUILT[next(iter(_PREBUILT))]
    return key


def derive_key(base_key: str, **options: Any) -> str:
    """A key for an artifact built from the program of ``base_key`` with further ``options``."""
    return _digest({"base": base_key, "options": options})


# -- the store -----------------------------------------------------------------------------


def _make_dirs(d: Path) -> None:
    """Create ``d`` and missing parents with mode exactly 0700 (mkdir's mode is cut by the umask)."""
    missing: list[Path] = []
    p = Path(os.path.abspath(d))
    while not os.path.lexists(p):
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for q in reversed(missing):
        try:
            os.mkdir(q, 0o700)
        except FileExistsError:
            continue
        os.chmod(q, 0o700)


def _read_checked(path: Path, what: str, limit: int, private: bool = False) -> bytes:
    """The bytes of regular file ``path`` if we own it and no one else can write (``private``: or
    read) it; raises _Untrusted, FileNotFoundError or OSError. Never follows a symlink or blocks."""
    try:
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _Untrusted(f"{what} is a symbolic link") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _Untrusted(f"{what} is not a regular file")
        _check_owner_mode(st, what, private)
        if st.st_size > limit:
            raise _Untrusted(f"{what} is larger than {limit} bytes")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(limit + 1 - total, 1 << 24))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise _Untrusted(f"{what} is larger than {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _write_private(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` by a new 0600 file holding ``data`` (temporary file + rename)."""
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), 0o600)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class CompileCache:
    """Entries by (kind, key) under ``directory``; counters ``hits``, ``misses``, ``rebuilt``."""

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory) if directory is not None else cache_dir()
        self.hits = 0
        self.misses = 0
        self.rebuilt = 0
        self._usable: bool | None = None
        self._mac_key: bytes | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"directory": self.directory}  # never the HMAC key

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["directory"])

    def __repr__(self) -> str:
        return f"CompileCache({str(self.directory)!r})"

    def usable(self) -> bool:
        """Create the directory (mode 0700) if needed; False (and one warning) if it cannot be used."""
        if self._usable is None:
            self._usable = self._check_dir()
        return self._usable

    def _check_dir(self) -> bool:
        d = self.directory
        try:
            _make_dirs(d)
            st = d.stat()
        except OSError as exc:
            _warn(f"compile cache directory '{d}' cannot be used ({exc}); compiling without cache")
            return False
        if not stat.S_ISDIR(st.st_mode):
            _warn(f"compile cache path '{d}' is not a directory; compiling without cache")
            return False
        try:
            _check_owner_mode(st, "it")
        except _Untrusted as exc:
            _warn(f"compile cache directory '{d}' is owned or writable by another user ({exc}); not loading"
                  " entries from it; compiling without cache")
            return False
        if not os.access(d, os.R_OK | os.W_OK | os.X_OK):
            _warn(f"compile cache directory '{d}' is not readable and writable; compiling without cache")
            return False
        try:
            self._mac_key = self._load_key()
        except OSError as exc:
            _warn(f"compile cache key '{d / KEY_FILE}' cannot be used ({exc}); compiling without cache")
            return False
        return True

    def _load_key(self) -> bytes:
        """The per-user HMAC key in the cache directory, created (0600, O_EXCL) on first use."""
        path = self.directory / KEY_FILE
        for _ in range(3):
            try:
                key = _read_checked(path, "the key file", KEY_BYTES, private=True)
                if len(key) != KEY_BYTES:
                    raise _Untrusted(f"the key file holds {len(key)} bytes, not {KEY_BYTES}")
                return key
            except FileNotFoundError:
                pass
            except _Untrusted as exc:
                # a key others could read or write authenticates nothing; entries made with it are rebuilt
                _warn(f"replacing compile cache key '{path}' ({exc})")
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            tmp = self.directory / f".{KEY_FILE}.{secrets.token_hex(8)}.tmp"
            _write_private(tmp, secrets.token_bytes(KEY_BYTES))
            try:
                os.link(tmp, path)  # fails if another process made one first: then that one is used
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        raise OSError(errno.EAGAIN, "cannot create a key file")

    def path(self, kind: str, key: str) -> Path:
        if not _KIND_RE.match(kind):
            raise ValueError(f"bad cache kind {kind!r}")
        if not _KEY_RE.match(key):
            raise ValueError(f"bad cache key {key!r}")
        return self.directory / kind / (key + SUFFIX)

    def _kind_dir(self, kind: str, create: bool) -> Path | None:
        """``<dir>/<kind>`` if it is a real directory of ours that others cannot write; None if it
        does not exist (and not ``create``); raises _Untrusted."""
        d = self.directory / kind
        try:
            st = os.lstat(d)
        except FileNotFoundError:
            if not create:
                return None
            try:
                os.mkdir(d, 0o700)
                os.chmod(d, 0o700)
            except FileExistsError:
                pass
            st = os.lstat(d)
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
            raise _Untrusted(f"'{d}' is not a directory")
        _check_owner_mode(st, f"directory '{d}'")
        return d

    def _mac(self, kind: str, key: str, payload: bytes) -> bytes:
        assert self._mac_key is not None
        return hmac.new(self._mac_key, f"{kind}\0{key}\0".encode() + payload, hashlib.sha256).digest()

    def encode(self, kind: str, key: str, obj: Any) -> bytes:
        payload = pickle.dumps({"kind": kind, "key": key, "object": obj}, protocol=pickle.HIGHEST_PROTOCOL)
        return HEADER.pack(MAGIC, FORMAT_VERSION, len(payload), self._mac(kind, key, payload)) + payload

    def decode(self, data: bytes, kind: str, key: str) -> Any:
        """The stored object, or raises ValueError saying what is wrong with ``data``.

        Nothing is unpickled unless its HMAC (made with this user's key, over kind, key and the
        payload) verifies: an entry written by anyone without the key is refused unread.
        """
        if len(data) < HEADER.size:
            raise ValueError("truncated header")
        magic, version, length, mac = HEADER.unpack_from(data)
        if magic != MAGIC:
            raise ValueError("not a qcomp cache entry")
        if version != FORMAT_VERSION:
            raise ValueError(f"entry format {version}, expected {FORMAT_VERSION}")
        payload = data[HEADER.size:]
        if len(payload) != length:
            raise ValueError(f"payload is {len(payload)} bytes, header says {length} (truncated)")
        if not hmac.compare_digest(self._mac(kind, key, payload), mac):
            raise ValueError("authentication failed: not written by this user's qcomp for this kind and key")
        try:
            record = pickle.loads(payload)
        except Exception as exc:  # authentic, but e.g. a class it names no longer exists
            raise ValueError(f"cannot unpickle ({type(exc).__name__}: {exc})") from None
        if not isinstance(record, dict) or record.get("kind") != kind or record.get("key") != key:
            raise ValueError("entry is for another kind or key")
        return record["object"]

    def _discard(self, path: Path, reason: str) -> None:
        self.rebuilt += 1
        _warn(f"discarding invalid compile cache entry '{path}' ({reason}); rebuilding it")
        try:
            path.unlink()
        except OSError:
            pass

    def get(self, kind: str, key: str, expect: type | tuple[type, ...] | None = None) -> Any | None:
        """The valid stored object, or None (missing, unusable cache, or an entry that failed a check)."""
        if not self.usable():
            return None
        path = self.path(kind, key)
        try:
            if self._kind_dir(kind, create=False) is None:
                return None
        except _Untrusted as exc:
            self.rebuilt += 1
            _warn(f"ignoring compile cache entry '{path}' ({exc}); rebuilding it")
            return None
        except OSError as exc:
            _warn(f"cannot read compile cache entry '{path}' ({exc}); rebuilding it")
            return None
        try:
            data = _read_checked(path, "the entry", MAX_ENTRY_BYTES)
        except FileNotFoundError:
            return None
        except _Untrusted as exc:
            self._discard(path, str(exc))
            return None
        except OSError as exc:
            _warn(f"cannot read compile cache entry '{path}' ({exc}); rebuilding it")
            return None
        try:
            obj = self.decode(data, kind, key)
        except ValueError as exc:
            self._discard(path, str(exc))
            return None
        if expect is not None and not isinstance(obj, expect):
            self._discard(path, f"holds a {type(obj).__name__}")
            return None
        return obj

    def put(self, kind: str, key: str, obj: Any) -> bool:
        """Store ``obj`` atomically (0600 in a 0700 directory); False (with a warning) if it could not be written."""
        if not self.usable():
            return False
        path = self.path(kind, key)
        try:
            data = self.encode(kind, key, obj)
        except Exception as exc:  # an artifact that does not pickle is simply not cached
            _warn(f"cannot cache {kind} ({type(exc).__name__}: {exc})")
            return False
        try:
            self._kind_dir(kind, create=True)
            _write_private(path, data)
        except _Untrusted as exc:
            _warn(f"not writing compile cache entry '{path}' ({exc})")
            return False
        except OSError as exc:
            _warn(f"cannot write compile cache entry '{path}' ({exc})")
            return False
        return True

    def get_or_build(self, kind: str, key: str, build: Callable[[], T],
                     expect: type | tuple[type, ...] | None = None) -> T:
        """The cached object for (kind, key), else ``build()`` stored for next time."""
        obj = _PREBUILT.pop((kind, key), None)
        if obj is None or (expect is not None and not isinstance(obj, expect)):
            obj = self.get(kind, key, expect)
            if obj is not None:
                self.hits += 1
                return obj
            obj = build()
        self.misses += 1
        self.put(kind, key, obj)
        return obj

    def entries(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.glob(f"*/*{SUFFIX}") if p.is_file())

    def clear(self) -> int:
        """Delete every entry; returns how many were deleted."""
        n = 0
        for p in self.entries():
            try:
                p.unlink()
                n += 1
            except OSError:
                pass
        return n


# -- artifacts beyond the Model's programs -------------------------------------------------
