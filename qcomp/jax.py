"""Public name of the jax bridge: ``qcomp.jax`` is :mod:`qcomp.bridges.jax`."""

from __future__ import annotations

import sys

from .bridges import jax as _impl

sys.modules[__name__] = _impl
