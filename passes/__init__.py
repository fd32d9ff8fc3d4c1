"""Optimization and gradient passes over the qcomp IR (installed as ``qcomp.passes``)."""

from .base import Pass, PassManager
from .presets import preset_pipeline
from .registry import OUTPUT_PRESERVING_PASSES, REGISTRY, make_pass, parse_pipeline

__all__ = ["OUTPUT_PRESERVING_PASSES", "REGISTRY", "Pass", "PassManager", "make_pass", "parse_pipeline",
           "preset_pipeline"]
