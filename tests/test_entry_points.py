"""Every entry point runs one pipeline (qcomp.pipeline): ``qcomp run``, ``qcomp train``, ``qcomp
compile`` and the API optimize, simulate and export the same program and give the same outputs."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

import qcomp
from qcomp import pipeline
from qcomp.backends.simulator import Simulator
from qcomp.cli import main

# -O2 "sim" changes this program in every way a pass can: a cancelled pair (cancel-inverses), a
# swap turned into a relabelling (elide-swaps), an unobserved qubit's gate dropped (light-cone) and
# that qubit and an idle one removed (dead-qubits)
SOURCE = """
qubit q[3];
qubit spare;
qubit idle;
input x[2];
param w[3];
ry(w[0] * x[0]) q[0];
h q[1];
h q[1];
rx(x[1]) q[1];
swap q[0], q[2];
cx q[2], q[1];
rz(w[1]) q[1];
ry(w[2]) q[0];
rx(w[2]) spare;
expect z(q[1]) @ x(q[2]);
"""
PARAMS = np.array([0.3, -1.1, 0.7])
INPUTS = np.array([[0.5, -0.25], [1.0, 2.0], [-0.75, 0.1]])


@pytest.fixture()
def model_file(tmp_path):
    p = tmp_path / "m.q"
    p.write_text(SOURCE)
    return p


@pytest.fixture()
def simulated(monkeypatch):
    """The Simulators built during a call (any subclass too), as (program IR text, simulator)."""
    made: list[tuple[str, Simulator]] = []
    real = Simulator.__init__

    @functools.wraps(real)  # the API reads the option names from the signature
    def init(self, program, *a, **k):
        real(self, program, *a, **k)
        made.append((program.to_text(), self))

    monkeypatch.setattr(Simulator, "__init__", init)
    return made


def test_run_api_and_train_simulate_one_optimized_program(model_file, tmp_path, simulated, capsys):
    api = qcomp.compile(model_file, cache=False)
    sim_program = api.optimized("sim")
    expected = pipeline.build(model_file, pipeline.DEFAULT_LEVEL, "sim", cache=False)
    assert sim_program == expected and sim_program.to_text() == expected.to_text()
    assert sim_program.num_qubits < api.program.num_qubits  # the passes did change it
    api_values = api.simulator().expval(PARAMS, INPUTS)
    simulated.clear()

    # qcomp run (default -O2, as the API)
    (tmp_path / "p.json").write_text(json.dumps(PARAMS.tolist()))
    (tmp_path / "x.json").write_text(json.dumps(INPUTS.tolist()))
    out = tmp_path / "values.json"
    assert main(["run", str(model_file), "--params", str(tmp_path / "p.json"), "--inputs", str(tmp_path / "x.json"),
                 "-o", str(out), "--no-cache"]) == 0
    assert [text for text, _ in simulated] == [sim_program.to_text()]
    run_values = np.array(json.loads(out.read_text())["values"])
    np.testing.assert_allclose(run_values, api_values, rtol=0, atol=1e-12)

    # qcomp train, one epoch: the simulator it trains is the same program, and it computes the same
    simulated.clear()
    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(data, x_train=rng.uniform(-1, 1, (8, 2)), y_train=np.array([1, -1] * 4),
             x_test=rng.uniform(-1, 1, (4, 2)), y_test=np.array([1, -1] * 2))
    assert main(["train", str(model_file), "--data", str(data), "--val-fraction", "0", "--epochs", "1",
                 "--batch-size", "4", "--no-progress", "--no-export", "--no-cache",
                 "--save", str(tmp_path / "t.npz")]) == 0
    assert {text for text, _ in simulated} == {sim_program.to_text()}
    train_sim = simulated[0][1]
    np.testing.assert_allclose(train_sim.expval(PARAMS, INPUTS), api_values, rtol=0, atol=1e-12)
    capsys.readouterr()


def test_run_level_selects_the_pipeline(model_file, tmp_path, simulated, capsys):
    (tmp_path / "p.json").write_text(json.dumps(PARAMS.tolist()))
    (tmp_path / "x.json").write_text(json.dumps(INPUTS.tolist()))
    values = {}
    for level in (0, 1, 3):
        simulated.clear()
        out = tmp_path / f"v{level}.json"
        assert main(["run", str(model_file), "-O", str(level), "--params", str(tmp_path / "p.json"),
                     "--inputs", str(tmp_path / "x.json"), "-o", str(out), "--no-cache"]) == 0
        expected = qcomp.compile(model_file, optimize=level, cache=False).optimized("sim")
        assert simulated[0][0] == expected.to_text()
        values[level] = np.array(json.loads(out.read_text())["values"])
    assert simulated[0][0] != qcomp.compile(model_file, cache=False).program.to_text()
    np.testing.assert_allclose(values[0], values[3], rtol=0, atol=1e-12)  # outputs kept at every level
    np.testing.assert_allclose(values[1], values[3], rtol=0, atol=1e-12)


def test_compile_command_and_model_qasm_export_one_program(model_file, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("QCOMP_CACHE_DIR", str(cache))
    monkeypatch.delenv("QCOMP_NO_CACHE", raising=False)
    out = tmp_path / "m.qasm"
    for level in (1, 2):
        assert main(["compile", str(model_file), "-O", str(level), "-o", str(out)]) == 0
        # the command's program is the cached "qasm" program that Model.qasm reads
        assert out.read_text() == qcomp.compile(model_file, optimize=level).qasm()
        assert out.read_text() == qcomp.compile(model_file, optimize=level, cache=False).qasm()
    assert (cache / "program-qasm").is_dir() and len(list((cache / "program-qasm").iterdir())) == 2


def test_state_target_keeps_the_declared_qubits(model_file):
    m = qcomp.compile(model_file, cache=False)
    state = m.optimized("state")
    assert state.num_qubits == m.program.num_qubits
    assert all(p.preserves == "state" for p in pipeline.pass_list(2, "state"))
    assert not pipeline.keeps_state(2) and pipeline.keeps_state(1)
    m1 = qcomp.compile(model_file, optimize=1, cache=False)
    assert m1.optimized("state") is m1.optimized("sim")  # -O1 keeps the state: one program


def test_verify_each_and_print_ir_run_the_passes_even_when_cached(model_file, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QCOMP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("QCOMP_NO_CACHE", raising=False)
    assert main(["compile", str(model_file), "-o", "-"]) == 0
    capsys.readouterr()
    assert main(["compile", str(model_file), "-o", "-", "--print-ir-after-all", "--verify-each"]) == 0
    err = capsys.readouterr().err
    names = [p.spec() for p in pipeline.pass_list(2, "qasm")]
    assert [line[len("// after "):] for line in err.splitlines() if line.startswith("// after ")] == names
