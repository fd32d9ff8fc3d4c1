"""Optimization and gradient passes over the qcomp IR (installed as ``qcomp.passes``)."""

from .base import REGISTRY, Pass, PassManager, make_pass, parse_pipeline, register

__all__ = ["REGISTRY", "Pass", "PassManager", "make_pass", "parse_pipeline", "register"]
from . import param_shift  # noqa: E402,F401  (registers param-shift)
from . import fuse_1q, fuse_blocks, fuse_diagonal  # noqa: E402,F401  (register the fusion passes)
from . import basis_translation  # noqa: E402,F401  (H4)
from .presets import preset_pipeline  # noqa: E402,F401  (H4)
from . import cancel_inverses, constant_fold, dead_qubits, light_cone, merge_rotations  # noqa: E402,F401  (H4)
from . import elide_swaps  # noqa: E402,F401  (H4)
from . import consolidate_2q  # noqa: E402,F401
