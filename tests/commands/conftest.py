"""Shared fixtures for the command tests: a small QNN that trains on the digits data in seconds."""

import pytest

# 16 pixel inputs re-uploaded onto 4 data qubits + a readout: small enough to train in seconds
SMALL = """
qubit data[4];
qubit readout;
input pixel[16];
param w[8];
for i in range(4) { for j in range(4) { rx(pi / 2 * pixel[4 * j + i]) data[i]; } }
x readout;
h readout;
for i in range(4) { rxx(w[i]) data[i], readout; }
for i in range(4) { rzz(w[4 + i]) data[i], readout; }
h readout;
expect z(readout);
"""


@pytest.fixture()
def model(tmp_path):
    p = tmp_path / "qnn.q"
    p.write_text(SMALL)
    return p
