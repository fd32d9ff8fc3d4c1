"""`qcomp grad --backend`: export the gradient program, then evaluate it through an executor."""

import numpy as np
import pytest

import qcomp
from qcomp.cli import main

SRC = "qubit q[2]; param w[2]; input x; ry(w[0] * x) q[0]; cry(w[1]) q[0], q[1]; h q[1]; expect z(q[0]) + x(q[1]);\n"


@pytest.mark.parametrize("backend", ["qcomp", "qiskit-statevector"])
def test_grad_backend_matches_simulator_gradient(tmp_path, capsys, backend):
    src = tmp_path / "g.q"
    src.write_text(SRC)
    w, x = np.array([0.3, 0.9]), np.array([[0.5], [1.0]])
    np.save(tmp_path / "w.npy", w)
    np.save(tmp_path / "x.npy", x)
    rc = main(["grad", str(src), "-o", str(tmp_path / "out"), "--params", str(tmp_path / "w.npy"),
               "--inputs", str(tmp_path / "x.npy"), "--backend", backend])
    out = capsys.readouterr().out
    assert rc == 0 and f"gradient on {backend}" in out
    from qcomp.hardware import run_gradient_program
    from qcomp.hardware.qiskit import executor_for

    got = run_gradient_program(tmp_path / "out", executor_for(backend), w, x)
    want = qcomp.compile(str(src), optimize=0).simulator().gradient(w, x)
    np.testing.assert_allclose(got, want, atol=1e-9)
    assert np.abs(want[..., 1]).max() > 1e-3  # the cry four-term rule is exercised


def test_grad_backend_needs_params(tmp_path, capsys):
    src = tmp_path / "g.q"
    src.write_text(SRC)
    rc = main(["grad", str(src), "-o", str(tmp_path / "out"), "--backend", "qcomp"])
    assert rc == 1 and "--params" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
