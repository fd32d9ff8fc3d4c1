"""Gradient methods other than adjoint work in a fresh process (no explicit import of qcomp.gradients)."""

import subprocess
import sys

CODE = """
import numpy as np, qcomp
sim = qcomp.compile("qubit q[2]; param w[2]; rx(w[0]) q[0]; crz(w[1]) q[0], q[1]; h q[1]; expect z(q[0]) + x(q[1]);", optimize=0).simulator()
w = np.array([0.4, 1.1])
a = sim.gradient(w, method="adjoint")
p = sim.gradient(w, method="parameter-shift")
f = sim.gradient(w, method="finite-diff")
h = sim.hessian(w)
assert np.allclose(a, p, atol=1e-10) and np.allclose(a, f, atol=1e-6), (a, p, f)
assert h.shape == (1, 2, 2) and np.allclose(h[0], h[0].T)  # flat params: no batch axis
print("ok")
"""


def test_parameter_shift_and_hessian_without_importing_gradients():
    r = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
