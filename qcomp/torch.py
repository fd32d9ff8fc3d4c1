"""Public name of the torch bridge: ``qcomp.torch`` is :mod:`qcomp.bridges.torch`."""

from __future__ import annotations

import sys

from .bridges import torch as _impl

sys.modules[__name__] = _impl
