"""The on-disk compile cache: hits skip compilation, every key ingredient causes a miss, bad entries are rebuilt."""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

import qcomp
import qcomp.api
import qcomp.cache as qc
import qcomp.frontend
from qcomp.cache import CacheWarning, CompileCache

SRC = "qubit q[2];\nparam w[2];\ninput x;\nry(w[0] * x) q[0];\ncx q[0], q[1];\nrz(w[1]) q[1];\nrx(w[1]) q[1];\nexpect z(q[0]) @ z(q[1]);\n"


@pytest.fixture()
def cache_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("QCOMP_CACHE_DIR", str(d))
    monkeypatch.delenv("QCOMP_NO_CACHE", raising=False)
    return d


@pytest.fixture()
def calls(monkeypatch) -> dict[str, int]:
    """Counts calls of the front end (parser and lowering) and of the optimizer."""
    counts = {"parse": 0, "lower": 0, "optimize": 0}
    real_parse, real_lower, real_opt = qcomp.frontend.parse_source, qcomp.frontend.lower_module, qcomp.pipeline.run_passes

    def parse_source(*a, **k):
        counts["parse"] += 1
        return real_parse(*a, **k)

    def lower_module(*a, **k):
        counts["lower"] += 1
        return real_lower(*a, **k)

    def optimize(*a, **k):
        counts["optimize"] += 1
        return real_opt(*a, **k)

    monkeypatch.setattr(qcomp.frontend, "parse_source", parse_source)
    monkeypatch.setattr(qcomp.frontend, "lower_module", lower_module)
    monkeypatch.setattr(qcomp.pipeline, "run_passes", optimize)
    return counts


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def entries(d: Path) -> list[Path]:
    """The artifact entries (not the lists of files the front end read, kind "includes")."""
    return sorted(p for p in d.glob("*/*.qcc") if p.parent.name != "includes")


def compile_all(source, **kw):
    m = qcomp.compile(source, **kw)
    m.optimized("sim"), m.optimized("qasm")
    return m


def test_second_compile_skips_front_end_and_passes(cache_dir, calls, tmp_path):
    f = write(tmp_path / "m.q", SRC)
    m1 = compile_all(f)
    assert calls == {"parse": 1, "lower": 1, "optimize": 2}
    assert {p.parent.name for p in entries(cache_dir)} == {"program", "program-sim", "program-qasm"}
    assert len(list((cache_dir / "includes").iterdir())) == 1
    m2 = compile_all(f)
    assert calls == {"parse": 1, "lower": 1, "optimize": 2}  # nothing recompiled
    assert m2._disk.hits == 3 and m2._disk.misses == 0
    assert m2.program.to_text() == m1.program.to_text()
    assert m2.qasm() == m1.qasm()
    p, x = np.array([0.3, -1.1]), np.array([[0.5], [2.0]])
    np.testing.assert_allclose(m2.simulator().expval(p, x), m1.simulator().expval(p, x), atol=0, rtol=0)
    # source text (not a path) is cached too
    compile_all(SRC)
    compile_all(SRC)
    assert calls["parse"] == 2


def test_every_key_ingredient_causes_a_miss(cache_dir, calls, tmp_path, monkeypatch):
    f = write(tmp_path / "m.q", SRC)
    compile_all(f)
    base = dict(calls)
    write(f, SRC.replace("rx(w[1])", "ry(w[1])"))  # source changed
    compile_all(f)
    assert calls["parse"] == base["parse"] + 1
    n = calls["parse"]
    compile_all(f, optimize=1)  # optimization level: same front end, new optimized programs
    assert calls["parse"] == n and calls["optimize"] == base["optimize"] + 4
    compile_all(f, passes="cancel-inverses")
    assert calls["optimize"] == base["optimize"] + 6
    compile_all(f, max_ops=5000)  # a limit is a front-end option
    assert calls["parse"] == n + 1
    import qcomp._version

    monkeypatch.setattr(qcomp._version, "__version__", "99.0")
    compile_all(f)
    assert calls["parse"] == n + 2
    monkeypatch.setattr(qc, "code_fingerprint", lambda: "another compiler")
    compile_all(f)
    assert calls["parse"] == n + 3


def test_changed_include_is_a_miss(cache_dir, calls, tmp_path):
    write(tmp_path / "lib" / "inner.q", "gate ent a, b { cx a, b; }\n")
    write(tmp_path / "lib" / "gates.q", 'include "inner.q";\ngate layer(t) a, b { ry(t) a; ent a, b; }\n')
    main = write(tmp_path / "m.q", 'include "lib/gates.q"; // include "not/this.q"\nqubit q[2];\nparam w;\n'
                 "layer(w) q[0], q[1];\nexpect z(q[1]);\n")
    m1 = qcomp.compile(main)
    qcomp.compile(main)
    assert calls["parse"] == 1  # compiled once
    write(tmp_path / "lib" / "inner.q", "gate ent a, b { cz a, b; }\n")  # nested include changed
    m2 = qcomp.compile(main)
    assert calls["parse"] == 2
    assert [o.name for o in m1.program.circuit.ops()] == ["ry", "cx"]
    assert [o.name for o in m2.program.circuit.ops()] == ["ry", "cz"]
    qcomp.compile(main)
    assert calls["parse"] == 2


def corrupt_truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def corrupt_garbage(data: bytes) -> bytes:
    return b"not a cache entry at all" * 10


def corrupt_checksum(data: bytes) -> bytes:
    b = bytearray(data)
    b[-5] ^= 0xFF  # a payload byte: the header's sha256 no longer matches
    return bytes(b)


def corrupt_format(data: bytes) -> bytes:
    b = bytearray(data)
    b[10:12] = (qc.FORMAT_VERSION + 1).to_bytes(2, "big")  # a future/old entry format
    return bytes(b)


def corrupt_empty(data: bytes) -> bytes:
    return b""


@pytest.mark.parametrize("damage", [corrupt_truncate, corrupt_garbage, corrupt_checksum, corrupt_format, corrupt_empty])
def test_corrupt_entry_is_rebuilt_with_a_warning(cache_dir, calls, tmp_path, damage):
    f = write(tmp_path / "m.q", SRC)
    m1 = qcomp.compile(f)
    (entry,) = entries(cache_dir)
    good = entry.read_bytes()
    entry.write_bytes(damage(good))
    with pytest.warns(CacheWarning, match="discarding invalid compile cache entry"):
        m2 = qcomp.compile(f)
    assert calls["parse"] == 2  # rebuilt, not trusted
    assert m2.program.to_text() == m1.program.to_text()
    assert entry.read_bytes() == good  # the rebuilt entry is valid again
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        qcomp.compile(f)
    assert calls["parse"] == 2


def test_entry_of_another_key_or_type_is_not_trusted(cache_dir):
    store = CompileCache(cache_dir)
    a, b = "a" * 64, "b" * 64
    store.put("program", a, "a string, not a Program")
    store.path("program", b).parent.mkdir(parents=True, exist_ok=True)
    store.path("program", b).write_bytes(store.path("program", a).read_bytes())  # copied under another key
    with pytest.warns(CacheWarning, match="authentication failed"):  # the HMAC covers kind and key
        assert store.get("program", b) is None
    with pytest.warns(CacheWarning, match="holds a str"):
        assert store.get("program", a, expect=qcomp.Program) is None
    assert not store.path("program", a).exists() and not store.path("program", b).exists()
    # an authentic pickle that cannot be loaded (a class that no longer exists)
    from collections import OrderedDict

    payload = pickle.dumps({"kind": "program", "key": a, "object": OrderedDict()}, protocol=0)
    payload = payload.replace(b"collections", b"nomodulexyz")
    store.path("program", a).write_bytes(qc.HEADER.pack(qc.MAGIC, qc.FORMAT_VERSION, len(payload),
                                                        store._mac("program", a, payload)) + payload)
    os.chmod(store.path("program", a), 0o600)
    with pytest.warns(CacheWarning, match="cannot unpickle"):
        assert store.get("program", a) is None


def _writer(directory: str, key: str, source: str, rounds: int, barrier) -> None:
    prog = qcomp.parse(source)
    store = CompileCache(directory)
    barrier.wait()
    for _ in range(rounds):
        assert store.put("program", key, prog)


def _reader(directory: str, key: str, rounds: int, barrier, out) -> None:
    store = CompileCache(directory)
    barrier.wait()
    seen = bad = 0
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for _ in range(rounds):  # until it has read the entry 100 times while the writers replace it
            if store.get("program", key, qcomp.Program) is not None:
                seen += 1
                if seen == 100:
                    break
        bad = len(w)
    out.put((seen, bad))


def test_concurrent_writers_leave_a_valid_entry(cache_dir):
    ctx = mp.get_context("fork")
    key = "c" * 64
    source = SRC * 1 + "".join(f"rx(w[0] + {k}) q[{k % 2}];\n" for k in range(300))  # a larger entry
    barrier = ctx.Barrier(5)
    out = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(cache_dir), key, source, 30, barrier)) for _ in range(4)]
    procs.append(ctx.Process(target=_reader, args=(str(cache_dir), key, 100_000, barrier, out)))
    for p in procs:
        p.start()
    seen, bad = out.get(timeout=60)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert bad == 0  # a reader never saw a partial entry
    assert seen > 0
    got = CompileCache(cache_dir).get("program", key, qcomp.Program)
    assert got is not None and got.to_text() == qcomp.parse(source).to_text()
    leftovers = [p.name for p in (cache_dir / "program").iterdir() if not p.name.endswith(".qcc")]
    assert leftovers == []  # no temporary files left behind


def test_cache_dir_env_and_default(cache_dir, calls, tmp_path, monkeypatch):
    qcomp.compile(SRC)
    assert len(entries(cache_dir)) == 1
    other = tmp_path / "other"
    monkeypatch.setenv("QCOMP_CACHE_DIR", str(other))
    qcomp.compile(SRC)
    assert calls["parse"] == 2 and len(entries(other)) == 1
    monkeypatch.delenv("QCOMP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert qc.cache_dir() == tmp_path / "xdg" / "qcomp"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert qc.cache_dir() == Path.home() / ".cache" / "qcomp"


def test_no_cache(cache_dir, calls, monkeypatch):
    compile_all(SRC, cache=False)
    compile_all(SRC, cache=False)
    assert calls["parse"] == 2 and not cache_dir.exists()
    monkeypatch.setenv("QCOMP_NO_CACHE", "1")
    compile_all(SRC)
    assert calls["parse"] == 3 and not cache_dir.exists()


def test_unusable_cache_dir_warns_and_runs_uncached(tmp_path, monkeypatch, calls):
    monkeypatch.delenv("QCOMP_NO_CACHE", raising=False)
    blocker = write(tmp_path / "file", "not a directory")
    monkeypatch.setenv("QCOMP_CACHE_DIR", str(blocker / "sub"))
    with pytest.warns(CacheWarning, match="cannot be used"):
        m = compile_all(SRC)
    assert m.simulator().expval([0.1, 0.2], [[0.3]]).shape == (1, 1)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # others could plant a pickle: never load from it
    monkeypatch.setenv("QCOMP_CACHE_DIR", str(shared))
    with pytest.warns(CacheWarning, match="another user"):
        compile_all(SRC)
    assert entries(shared) == [] and calls["parse"] == 2


def test_unwritable_entry_and_unpicklable_object_only_warn(cache_dir):
    store = CompileCache(cache_dir)
    with pytest.warns(CacheWarning, match="cannot cache"):
        assert store.put("program", "d" * 64, lambda: 1) is False
    assert store.get_or_build("program", "d" * 64, lambda: 5) == 5 and store.misses == 1
    assert store.get_or_build("program", "d" * 64, lambda: 6) == 5 and store.hits == 1
    assert store.clear() == 1 and entries(cache_dir) == []
    with pytest.raises(ValueError):
        store.path("../evil", "d" * 64)


# -- keys from what the front end read; safe reading; entries that cannot run code ---------------


def z(model) -> float:
    return float(model.simulator().expval(np.zeros(model.num_params))[0])  # flat params: (n_outputs,)


def test_include_path_with_double_slash_is_not_stale(cache_dir, calls, tmp_path):
    # a comment-stripping regex once cut 'include "sub//b.q";' at the '//', so b.q left the key
    write(tmp_path / "sub" / "b.q", "x q;\n")
    main = write(tmp_path / "m.q", 'qubit q;\ninclude "sub//b.q";\nexpect z(q);\n')
    assert z(qcomp.compile(main)) == -1.0
    assert z(qcomp.compile(main)) == -1.0 and calls["parse"] == 1  # a hit
    write(tmp_path / "sub" / "b.q", "h q;\n")
    assert abs(z(qcomp.compile(main))) < 1e-12 and calls["parse"] == 2  # recompiled, not stale
    os.utime(tmp_path / "sub" / "b.q", (1, 1))  # a touched file with the same content is still a hit
    assert abs(z(qcomp.compile(main))) < 1e-12 and calls["parse"] == 2
    # same content at the same path, but the path now resolves elsewhere: recompiled
    write(tmp_path / "v2" / "b.q", "h q;\n")
    (tmp_path / "sub" / "b.q").unlink()
    os.symlink(tmp_path / "v2" / "b.q", tmp_path / "sub" / "b.q")
    qcomp.compile(main)
    assert calls["parse"] == 3
    # an include that disappeared is the front end's located error, not a stale hit
    (tmp_path / "sub" / "b.q").unlink()
    with pytest.raises(qcomp.errors.IncludeError, match="cannot find include file 'sub//b.q'"):
        qcomp.compile(main)


def test_string_source_includes_are_in_the_key(cache_dir, calls, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "b.q", "x q;\n")
    text = 'qubit q;\ninclude "b.q";\nexpect z(q);\n'
    assert z(qcomp.compile(text)) == -1.0
    write(tmp_path / "b.q", "")
    assert z(qcomp.compile(text)) == 1.0 and calls["parse"] == 2


@pytest.mark.parametrize("name", ["/dev/zero", "zero.q", "pipe.q", "loop.q"])
def test_bad_include_with_cache_is_a_fast_located_error(cache_dir, tmp_path, name):
    os.symlink("/dev/zero", tmp_path / "zero.q")
    os.mkfifo(tmp_path / "pipe.q")
    os.symlink("loop.q", tmp_path / "loop.q")
    main = write(tmp_path / "m.q", f'qubit q;\ninclude "{name}";\n')
    code = ("import qcomp, sys\ntry:\n    qcomp.compile(sys.argv[1])\nexcept qcomp.errors.IncludeError as e:\n"
            "    print(e.span.line, e.span.column, e.message)\n")
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", code, str(main)], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, QCOMP_CACHE_DIR=str(cache_dir)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"2 1 cannot read include file '{name}': ")


def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mode & 0o777 for p in [root, *root.rglob("*")]}


def test_permissive_umask_still_gives_private_entries(tmp_path, monkeypatch, calls):
    monkeypatch.delenv("QCOMP_NO_CACHE", raising=False)
    root = tmp_path / "new" / "cache"  # its parent is created too
    monkeypatch.setenv("QCOMP_CACHE_DIR", str(root))
    old = os.umask(0)
    try:
        compile_all(SRC)
    finally:
        os.umask(old)
    got = modes(root)
    assert got.pop(".") == 0o700 and (tmp_path / "new").stat().st_mode & 0o777 == 0o700
    assert got.pop("hmac-key") == 0o600
    assert {k: v for k, v in got.items() if "/" not in k} == {"includes": 0o700, "program": 0o700,
                                                              "program-sim": 0o700, "program-qasm": 0o700}
    assert {v for k, v in got.items() if "/" in k} == {0o600} and len(got) == 8
    old = os.umask(0o777)  # a umask that clears every bit does not lock us out either
    try:
        root2 = tmp_path / "c2"
        monkeypatch.setenv("QCOMP_CACHE_DIR", str(root2))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            compile_all(SRC)
    finally:
        os.umask(old)
    got = modes(root2)
    assert {v for k, v in got.items() if (root2 / k).is_dir()} == {0o700}
    assert {v for k, v in got.items() if not (root2 / k).is_dir()} == {0o600}


PWNED = "pwned-marker"


class _Payload:
    """Unpickling this runs code: what a planted entry would do."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def _old_style_entry(kind: str, key: str, obj) -> bytes:
    """An entry with a valid plain checksum (the old format's integrity check), but no HMAC."""
    import hashlib

    payload = pickle.dumps({"kind": kind, "key": key, "object": obj})
    return qc.HEADER.pack(qc.MAGIC, qc.FORMAT_VERSION, len(payload), hashlib.sha256(payload).digest()) + payload


def test_tampered_entry_is_never_unpickled(cache_dir, calls, tmp_path):
    f = write(tmp_path / "m.q", SRC)
    m1 = compile_all(f)
    marker = tmp_path / PWNED
    for entry in sorted(cache_dir.glob("*/*.qcc")):
        kind, key = entry.parent.name, entry.stem
        entry.write_bytes(_old_style_entry(kind, key, _Payload(str(marker))))
    with pytest.warns(CacheWarning, match="authentication failed"):
        m2 = compile_all(f)
    assert not marker.exists()  # nothing was unpickled
    assert calls["parse"] == 2 and m2.qasm() == m1.qasm()  # ignored, recompiled, right result
    # flipping any byte of a real entry is caught as well
    entry = entries(cache_dir)[0]
    data = bytearray(entry.read_bytes())
    data[qc.HEADER.size + 3] ^= 1
    entry.write_bytes(bytes(data))
    with pytest.warns(CacheWarning, match="authentication failed"):
        compile_all(f)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile_all(f)  # rebuilt and valid again


def test_entries_of_another_cache_key_do_not_load(cache_dir, tmp_path):
    store = CompileCache(cache_dir)
    store.put("program", "a" * 64, qcomp.parse(SRC))
    other = CompileCache(tmp_path / "other")
    assert other.usable()
    (tmp_path / "other" / "program").mkdir(mode=0o700)
    (tmp_path / "other" / "program" / ("a" * 64 + ".qcc")).write_bytes(store.path("program", "a" * 64).read_bytes())
    with pytest.warns(CacheWarning, match="authentication failed"):
        assert other.get("program", "a" * 64) is None


def test_bad_key_file_is_replaced(cache_dir, calls):
    compile_all(SRC)
    key = cache_dir / qc.KEY_FILE
    os.chmod(key, 0o644)  # others could have read it: it authenticates nothing any more
    with pytest.warns(CacheWarning) as record:
        m = compile_all(SRC)
    text = "\n".join(str(w.message) for w in record)
    assert "replacing compile cache key" in text and "authentication failed" in text
    assert calls["parse"] == 2 and key.stat().st_mode & 0o777 == 0o600
    assert m.simulator().expval([0.1, 0.2], [[0.3]]).shape == (1, 1)


def _compile_warns(f, match: str):
    with pytest.warns(CacheWarning, match=match):
        return compile_all(f)


def test_entry_with_wrong_mode_owner_or_type_is_ignored(cache_dir, calls, tmp_path):
    f = write(tmp_path / "m.q", SRC)
    m1 = compile_all(f)
    entry = next((cache_dir / "program").glob("*.qcc"))
    os.chmod(entry, 0o666)
    m2 = _compile_warns(f, r"mode 0666 \(group or others can write it\)")
    assert calls["parse"] == 2 and m2.qasm() == m1.qasm() and entry.stat().st_mode & 0o777 == 0o600
    good = entry.read_bytes()
    entry.unlink()
    (tmp_path / "elsewhere.qcc").write_bytes(good)
    os.symlink(tmp_path / "elsewhere.qcc", entry)
    _compile_warns(f, "symbolic link")
    assert calls["parse"] == 3 and not entry.is_symlink()
    if os.geteuid() == 0:
        os.chown(entry, 12345, 12345)
        _compile_warns(f, "owned by uid 12345")
        assert calls["parse"] == 4 and entry.stat().st_uid == 0


def test_directory_with_wrong_mode_or_owner_is_ignored(cache_dir, calls, tmp_path):
    f = write(tmp_path / "m.q", SRC)
    m1 = compile_all(f)
    kind_dir = cache_dir / "program"
    os.chmod(kind_dir, 0o777)
    m2 = _compile_warns(f, "group or others can write it")
    assert calls["parse"] == 2 and m2.qasm() == m1.qasm()
    os.chmod(kind_dir, 0o700)
    compile_all(f)
    assert calls["parse"] == 2  # usable again
    if os.geteuid() == 0:
        os.chown(kind_dir, 12345, 12345)
        m3 = _compile_warns(f, "owned by uid 12345")
        assert calls["parse"] == 3 and m3.qasm() == m1.qasm()
        os.chown(kind_dir, 0, 0)
    # a symlinked kind directory is not followed
    kind_dir.rename(tmp_path / "moved")
    os.symlink(tmp_path / "moved", kind_dir)
    _compile_warns(f, "is not a directory")
    assert calls["parse"] == 4 if os.geteuid() == 0 else calls["parse"] == 3
    if os.geteuid() == 0:  # the cache directory itself, owned by someone else: uncached
        kind_dir.unlink()
        os.chown(cache_dir, 12345, 12345)
        _compile_warns(f, "owned or writable by another user")
