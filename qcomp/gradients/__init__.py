"""Gradients and Hessians of program outputs: parameter shift, finite differences, gradient programs."""

from __future__ import annotations

from .evaluate import *  # noqa: F401,F403 - the package's public names are evaluate's
from .evaluate import __all__  # noqa: F401
