"""On-disk compile cache: pickled compiled artifacts keyed by a hash of source, includes, options and qcomp version.

An entry is one file ``<dir>/<kind>/<key>.qcc``: a fixed header (magic, format version, payload
length, sha256 of the payload) followed by a pickle of ``{"kind", "key", "object"}``. A reader
checks all of these and the kind/key stored inside; anything that does not match (truncated,
garbage, wrong checksum, old format, unpicklable, wrong type) is deleted with a ``CacheWarning``
and rebuilt, never trusted. Writers use a temporary file and ``os.replace``, so concurrent
processes writing the same key leave one whole entry. A cache directory that cannot be created,
read or written, or that other users can write to (a pickle from it could run their code), gives
one warning and compilation runs uncached.

The key covers the source text, the content of every file it includes (recursively), the compile
options, ``qcomp.__version__`` and a fingerprint of qcomp's own source files (so a changed
compiler never reuses entries of the old one even when the version string did not change).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
import re
import stat
import struct
import sys
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from ._io import atomic_write_bytes

__all__ = [
    "CacheWarning",
    "CompileCache",
    "cache_dir",
    "cache_enabled",
    "default_cache",
    "source_key",
    "derive_key",
    "code_fingerprint",
    "include_digests",
    "gradient_program",
    "ENV_DIR",
    "ENV_DISABLE",
]

ENV_DIR = "QCOMP_CACHE_DIR"
ENV_DISABLE = "QCOMP_NO_CACHE"
MAGIC = b"QCOMPCACHE"
FORMAT_VERSION = 1
# magic, format version, payload length, sha256(payload)
HEADER = struct.Struct(">10sHQ32s")
SUFFIX = ".qcc"
_KIND_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")

T = TypeVar("T")


class CacheWarning(UserWarning):
    """A cache problem that was handled (entry rebuilt, or compilation ran uncached)."""


def _warn(message: str) -> None:
    warnings.warn(message, CacheWarning, stacklevel=3)


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


_COMMENT_RE = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_INCLUDE_RE = re.compile(r'\binclude\s+"([^"\n]*)"')


def include_digests(text: str, base_dir: str | os.PathLike, _seen: set[str] | None = None) -> list[tuple[str, str]]:
    """[(resolved path, sha256 of content or "missing")] of every file ``text`` includes, recursively.

    A textual scan (comments stripped) that resolves paths like the front end does (relative to
    the including file's directory). It may over-approximate, which only adds to the key.
    """
    seen = _seen if _seen is not None else set()
    out: list[tuple[str, str]] = []
    for rel in _INCLUDE_RE.findall(_COMMENT_RE.sub(" ", text)):
        path = (Path(base_dir) / rel).resolve()
        key = str(path)
        if key in seen:
            continue
        seen.add(key)
        try:
            data = path.read_bytes()
        except OSError:
            out.append((key, "missing"))
            continue
        out.append((key, _sha(data)))
        out.extend(include_digests(data.decode("utf-8", errors="replace"), path.parent, seen))
    return out


def _digest(obj: Any) -> str:
    return _sha(json.dumps(obj, sort_keys=True, default=str).encode())


def source_key(text: str, name: str, base_dir: str | os.PathLike | None, options: Mapping[str, Any]) -> str:
    """The cache key of compiling ``text`` (file ``name``) with front-end ``options`` (limits...)."""
    import qcomp

    bd = Path(base_dir) if base_dir is not None else Path.cwd()
    return _digest({
        "qcomp": qcomp.__version__,
        "code": code_fingerprint(),
        "python": list(sys.version_info[:2]),  # pickles of one Python need not load in another
        "name": name,
        "source": _sha(text.encode("utf-8")),
        "includes": include_digests(text, bd),
        "options": dict(options),
    })


def derive_key(base_key: str, **options: Any) -> str:
    """A key for an artifact built from the program of ``base_key`` with further ``options``."""
    return _digest({"base": base_key, "options": options})


# -- the store -----------------------------------------------------------------------------


class CompileCache:
    """Entries by (kind, key) under ``directory``; counters ``hits``, ``misses``, ``rebuilt``."""

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory) if directory is not None else cache_dir()
        self.hits = 0
        self.misses = 0
        self.rebuilt = 0
        self._usable: bool | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"directory": self.directory}

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
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
            st = d.stat()
        except OSError as exc:
            _warn(f"compile cache directory '{d}' cannot be used ({exc}); compiling without cache")
            return False
        if not stat.S_ISDIR(st.st_mode):
            _warn(f"compile cache path '{d}' is not a directory; compiling without cache")
            return False
        if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
            _warn(f"compile cache directory '{d}' is owned or writable by another user; not loading pickles"
                  " from it; compiling without cache")
            return False
        if not os.access(d, os.R_OK | os.W_OK | os.X_OK):
            _warn(f"compile cache directory '{d}' is not readable and writable; compiling without cache")
            return False
        return True

    def path(self, kind: str, key: str) -> Path:
        if not _KIND_RE.match(kind):
            raise ValueError(f"bad cache kind {kind!r}")
        if not _KEY_RE.match(key):
            raise ValueError(f"bad cache key {key!r}")
        return self.directory / kind / (key + SUFFIX)

    @staticmethod
    def encode(kind: str, key: str, obj: Any) -> bytes:
        payload = pickle.dumps({"kind": kind, "key": key, "object": obj}, protocol=pickle.HIGHEST_PROTOCOL)
        return HEADER.pack(MAGIC, FORMAT_VERSION, len(payload), hashlib.sha256(payload).digest()) + payload

    @staticmethod
    def decode(data: bytes, kind: str, key: str) -> Any:
        """The stored object, or raises ValueError saying what is wrong with ``data``."""
        if len(data) < HEADER.size:
            raise ValueError("truncated header")
        magic, version, length, checksum = HEADER.unpack_from(data)
        if magic != MAGIC:
            raise ValueError("not a qcomp cache entry")
        if version != FORMAT_VERSION:
            raise ValueError(f"entry format {version}, expected {FORMAT_VERSION}")
        payload = data[HEADER.size:]
        if len(payload) != length:
            raise ValueError(f"payload is {len(payload)} bytes, header says {length} (truncated)")
        if hashlib.sha256(payload).digest() != checksum:
            raise ValueError("checksum mismatch")
        try:
            record = pickle.loads(payload)
        except Exception as exc:  # the checksum matched, but e.g. a class it names no longer exists
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
        """The valid stored object, or None (missing, unusable cache, or invalid entry -> deleted)."""
        if not self.usable():
            return None
        path = self.path(kind, key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
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
        """Store ``obj`` atomically; False (with a warning) if it could not be written."""
        if not self.usable():
            return False
        path = self.path(kind, key)
        try:
            data = self.encode(kind, key, obj)
        except Exception as exc:  # an artifact that does not pickle is simply not cached
            _warn(f"cannot cache {kind} ({type(exc).__name__}: {exc})")
            return False
        try:
            atomic_write_bytes(path, data)
        except OSError as exc:
            _warn(f"cannot write compile cache entry '{path}' ({exc})")
            return False
        return True

    def get_or_build(self, kind: str, key: str, build: Callable[[], T],
                     expect: type | tuple[type, ...] | None = None) -> T:
        """The cached object for (kind, key), else ``build()`` stored for next time."""
        obj = self.get(kind, key, expect)
        if obj is not None:
            self.hits += 1
            return obj
        self.misses += 1
        obj = build()
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


def gradient_program(model: Any, wrt: str = "params", order: int = 1):
    """``build_gradient_program(model.program, wrt, order)``, cached with the model's key when it has one."""
    from .passes.param_shift import GradientProgram, build_gradient_program

    def build():
        return build_gradient_program(model.program, wrt, order)

    store, key = getattr(model, "_disk", None), getattr(model, "cache_key", None)
    if store is None or key is None:
        return build()
    return store.get_or_build("gradient-program", derive_key(key, wrt=wrt, order=order), build, GradientProgram)
