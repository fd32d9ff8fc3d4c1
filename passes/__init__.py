"""Optimization and gradient passes over the qcomp IR (installed as ``qcomp.passes``)."""

from .base import REGISTRY, Pass, PassManager, make_pass, parse_pipeline, register

__all__ = ["REGISTRY", "Pass", "PassManager", "make_pass", "parse_pipeline", "register"]
