"""`qcomp run --backend qiskit-*` binds one row of --params numerically, so non-polynomial param angles run."""

import numpy as np
import pytest

from qcomp.cli import main

pytest.importorskip("qiskit")

SRC = "qubit q[2]; param w[2]; input x; rx(sin(w[0])) q[0]; ry(w[1] * x) q[1]; cx q[0], q[1]; expect z(q[1]);"


def test_sin_of_a_param_runs_on_qiskit_statevector(tmp_path, capsys):
    model = tmp_path / "m.q"
    model.write_text(SRC)
    np.save(tmp_path / "w.npy", np.array([0.5, -0.3]))
    np.save(tmp_path / "x.npy", np.array([[0.2], [1.5]]))
    args = ["run", str(model), "--params", str(tmp_path / "w.npy"), "--inputs", str(tmp_path / "x.npy"),
            "-o", str(tmp_path / "{}.npy")]
    assert main([a.format("q") for a in args]) == 0
    assert main([a.format("s") for a in args] + ["--backend", "qiskit-statevector"]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "s.npy"), np.load(tmp_path / "q.npy"), atol=1e-10)


def test_several_rows_of_params_get_an_option_that_exists(tmp_path, capsys):
    model = tmp_path / "m.q"
    model.write_text(SRC)
    np.save(tmp_path / "w.npy", np.array([[0.5, -0.3], [0.1, 0.2]]))
    np.save(tmp_path / "x.npy", np.array([[0.2], [1.5]]))
    assert main(["run", str(model), "--params", str(tmp_path / "w.npy"), "--inputs", str(tmp_path / "x.npy"),
                 "--backend", "qiskit-statevector"]) == 1
    err = capsys.readouterr().err
    assert "--bind-params" not in err and "give one row of --params" in err
