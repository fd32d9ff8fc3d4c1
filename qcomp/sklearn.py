"""Public name of the sklearn bridge: ``qcomp.sklearn`` is :mod:`qcomp.bridges.sklearn`."""

from __future__ import annotations

import sys

from .bridges import sklearn as _impl

sys.modules[__name__] = _impl
