"""Manifest values bind by declaration order, not by the JSON object's key order."""

import json

import numpy as np
import pytest

import qcomp
from qcomp.hardware.manifest import manifest_element_names, qasm_input_values
from qcomp.hardware.qiskit import model_values

SRC = "qubit q[2]; input x[12]; param w[11]; for i in range(12) { rx(x[i] * w[i % 11]) q[i % 2]; } expect z(q[0]) + z(q[1]);"


@pytest.mark.parametrize("bind", [False, True])
def test_sorted_key_manifest_binds_the_same_values(bind):
    m = qcomp.compile(SRC, optimize=0)
    rng = np.random.default_rng(0)
    w, x = rng.uniform(-1, 1, 11), rng.uniform(-1, 1, 12)
    res = m.qasm_result(3, bind_params=w if bind else None)
    resorted = json.loads(json.dumps(res.manifest, sort_keys=True))  # x_x_10 now sorts before x_x_2
    assert list(resorted["inputs"]) != list(res.manifest["inputs"])
    p = None if bind else w
    assert qasm_input_values(resorted, p, x) == qasm_input_values(res.manifest, p, x)
    v1, v2 = model_values(resorted, p, x), model_values(res.manifest, p, x)
    assert v1.keys() == v2.keys() and all(np.array_equal(v1[k], v2[k]) for k in v1)
    assert manifest_element_names(resorted, "inputs") == m.program.input_names()
    assert manifest_element_names(resorted, "params") == ([] if bind else m.program.param_names())
