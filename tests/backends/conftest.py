"""Shared helpers for backend tests: a reference finite-difference gradient."""

from __future__ import annotations

import numpy as np
import pytest

from qcomp.backends import reference as R


def _central_difference(program, w: np.ndarray, x, eps: float = 1e-5) -> np.ndarray:
    """(batch, outputs, params) central differences of the reference simulator's expectation values."""
    cols = []
    for i in range(program.num_params):
        d = np.zeros(program.num_params)
        d[i] = eps
        cols.append((R.expvals(program, w + d, x) - R.expvals(program, w - d, x)) / (2 * eps))
    return np.stack(cols, axis=-1)


@pytest.fixture(scope="session")
def reference_fd():
    """``reference_fd(program, w, x)`` -> reference gradient by central differences."""
    return _central_difference
