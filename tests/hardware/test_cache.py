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
    real_parse, real_lower, real_opt = qcomp.frontend.parse_source, qcomp.frontend.lower_module, qcomp.api.optimize

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
    monkeypatch.setattr(qcomp.api, "optimize", optimize)
    return counts


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def entries(d: Path) -> list[Path]:
    return sorted(d.glob("*/*.qcc"))


def compile_all(source, **kw):
    m = qcomp.compile(source, **kw)
    m.optimized("sim"), m.optimized("qasm")
    return m


def test_second_compile_skips_front_end_and_passes(cache_dir, calls, tmp_path):
    f = write(tmp_path / "m.q", SRC)
    m1 = compile_all(f)
    assert calls == {"parse": 1, "lower": 1, "optimize": 2}
    assert {p.parent.name for p in entries(cache_dir)} == {"program", "program-sim", "program-qasm"}
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
    monkeypatch.setattr(qcomp, "__version__", "99.0")
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
    digests = qc.include_digests(main.read_text(), tmp_path)
    assert [Path(p).name for p, _ in digests] == ["gates.q", "inner.q"]  # the commented include is ignored


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
    with pytest.warns(CacheWarning, match="another kind or key"):
        assert store.get("program", b) is None
    with pytest.warns(CacheWarning, match="holds a str"):
        assert store.get("program", a, expect=qcomp.Program) is None
    assert not store.path("program", a).exists() and not store.path("program", b).exists()
    # a valid checksum over a pickle that cannot be loaded (a class that no longer exists)
    from collections import OrderedDict

    payload = pickle.dumps({"kind": "program", "key": a, "object": OrderedDict()}, protocol=0)
    payload = payload.replace(b"collections", b"nomodulexyz")
    import hashlib

    store.path("program", a).write_bytes(qc.HEADER.pack(qc.MAGIC, qc.FORMAT_VERSION, len(payload),
                                                        hashlib.sha256(payload).digest()) + payload)
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


def test_gradient_program_is_cached(cache_dir, monkeypatch):
    import qcomp.passes.param_shift as ps

    n = {"build": 0}
    real = ps.build_gradient_program

    def counting(*a, **k):
        n["build"] += 1
        return real(*a, **k)

    monkeypatch.setattr(ps, "build_gradient_program", counting)
    g1 = qc.gradient_program(qcomp.compile(SRC), "params", 1)
    g2 = qc.gradient_program(qcomp.compile(SRC), "params", 1)
    assert n["build"] == 1 and g2.num_circuits == g1.num_circuits
    qc.gradient_program(qcomp.compile(SRC), "both", 1)
    qc.gradient_program(qcomp.compile(SRC, cache=False), "params", 1)
    assert n["build"] == 3
