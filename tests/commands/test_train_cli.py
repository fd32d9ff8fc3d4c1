"""`qcomp train` and `qcomp eval` end to end on the built-in digits data."""

import json

import numpy as np
import pytest

from qcomp.cli import main


def test_train_writes_params_and_trained_qasm(model, tmp_path, capsys):
    save = tmp_path / "out" / "p.npz"
    qasm = tmp_path / "out" / "trained.qasm"
    rc = main([
        "train", str(model), "--data", "digits:3,6", "--epochs", "2", "--batch-size", "32",
        "--lr", "0.05", "--seed", "0", "--save", str(save), "--export-qasm", str(qasm), "--no-progress",
    ])
    out = capsys.readouterr().out
    assert rc == 0
    assert "test: loss" in out and "hinge accuracy" in out
    with np.load(save) as z:
        params = z["params"]
    assert params.shape == (8,)
    text = qasm.read_text()
    assert text.startswith("OPENQASM 3.0;") and "p_w_" not in text and "x_pixel_0" in text  # params bound, inputs kept
    manifest = json.loads((tmp_path / "out" / "trained.qasm.json").read_text())
    assert manifest["outputs"]

    # the trained circuit loaded by Qiskit gives the same expectation as qcomp's simulator
    qiskit = pytest.importorskip("qiskit")
    from qiskit.quantum_info import SparsePauliOp, Statevector
    import qiskit.qasm3
    import qcomp
    from qcomp.hardware.manifest import manifest_pauli_list, qasm_input_values

    m = qcomp.compile(str(model))
    x = (np.random.default_rng(0).random(16) > 0.5).astype(float)  # one sample
    circ = qiskit.qasm3.loads(text)
    values = qasm_input_values(manifest, params, x)
    circ = circ.assign_parameters({p: values[p.name] for p in circ.parameters}) if circ.parameters else circ
    ev = Statevector(circ).expectation_value(SparsePauliOp.from_list(manifest_pauli_list(manifest, 0))).real
    assert ev == pytest.approx(m.simulator().expval(params, x[None])[0, 0], abs=1e-9)

    rc = main(["eval", str(model), "--data", "digits:3,6", "--params", str(save), "--json"])
    metrics = json.loads(capsys.readouterr().out)
    assert rc == 0 and 0.0 <= metrics["hinge_accuracy"] <= 1.0


def test_train_resume_continues(model, tmp_path, capsys):
    save = tmp_path / "p.npz"
    args = ["train", str(model), "--data", "digits:3,6", "--batch-size", "64", "--no-progress", "--no-export",
            "--seed", "1"]
    assert main(args + ["--epochs", "1", "--save", str(save)]) == 0
    assert main(args + ["--epochs", "2", "--save", str(tmp_path / "q.npz"), "--resume", str(save)]) == 0
    assert main(args + ["--epochs", "2", "--save", str(tmp_path / "r.npz")]) == 0
    with np.load(tmp_path / "q.npz") as a, np.load(tmp_path / "r.npz") as b:
        np.testing.assert_array_equal(a["params"], b["params"])


def test_bad_data_fails_before_work_and_writes_nothing(model, tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_train=np.ones((4, 5)), y_train=np.ones(4), x_test=np.ones((2, 5)), y_test=np.ones(2))
    save = tmp_path / "p.npz"
    rc = main(["train", str(model), "--data", str(bad), "--save", str(save), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1 and "error:" in err and "Traceback" not in err
    assert "16" in err and "5" in err  # names the expected and actual feature counts
    assert not save.exists() and not (tmp_path / "qnn.trained.qasm").exists()


def test_unknown_dataset_spec(model, capsys):
    assert main(["train", str(model), "--data", "cifar:1,2", "--no-progress"]) == 1
    assert "digits" in capsys.readouterr().err
