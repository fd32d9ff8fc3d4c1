"""Public name of the Qiskit primitives: ``qcomp.qiskit`` is :mod:`qcomp.bridges.qiskit_primitives`."""

from __future__ import annotations

import sys

from .bridges import qiskit_primitives as _impl

sys.modules[__name__] = _impl
