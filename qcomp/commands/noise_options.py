"""The ``--noise`` options shared by ``qcomp run``, ``qcomp train`` and ``qcomp eval`` (docs/noise.md)."""

from __future__ import annotations

import argparse
from typing import Any

from . import int_in

__all__ = ["add_noise_arguments", "noise_options"]


def add_noise_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--noise", default=None, metavar="MODEL.json",
                   help="simulate with this noise model (qcomp.noise JSON), applied to the program as written")
    p.add_argument("--noise-method", default=None, choices=("auto", "density_matrix", "trajectories", "branches"),
                   help="noisy simulation method (default auto: density matrix up to 12 qubits); 'branches': "
                        "a dynamic circuit's classical branches without ancillas (also without noise)")
    p.add_argument("--trajectories", type=int_in(2, 2**31, "--trajectories"), default=None,
                   help="trajectories per row for --noise-method trajectories (default 1000)")


def noise_options(args: argparse.Namespace, model: Any) -> dict[str, Any] | None:
    """Options for ``model.simulator`` when the run is noisy (a --noise model or channels in the source), else None."""
    if args.noise is None and args.noise_method is None and not model.is_noisy:
        return None
    out: dict[str, Any] = {"method": args.noise_method or "auto"}
    if args.noise is not None:
        from ..noise import load_noise_model

        out["noise"] = load_noise_model(args.noise)
    if args.trajectories is not None:
        out["trajectories"] = args.trajectories
    if getattr(args, "seed", None) is not None and out["method"] == "trajectories":
        out["seed"] = args.seed
    return out
