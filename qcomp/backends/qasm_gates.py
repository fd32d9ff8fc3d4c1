"""Gate definitions the OpenQASM emitter writes for library gates missing from stdgates.inc / qelib1.inc."""

from __future__ import annotations

import math

from ..ir.expr import Const, Expr, Sym, div, neg

# Gates every OpenQASM 3 consumer knows from stdgates.inc (Qiskit's importer checked gate by gate).
STDGATES = frozenset(
    {"id", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "rx", "ry", "rz", "p",
     "cx", "cy", "cz", "ch", "swap", "crx", "cry", "crz", "cp", "ccx", "cswap"}
)
# Gates of qelib1.inc as strict OpenQASM 2 readers (qiskit.qasm2.loads) know them; p/cp/u are renamed.
QELIB1 = frozenset({"id", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "rx", "ry", "rz",
                    "cx", "cy", "cz", "ch", "crz", "ccx"})
QASM2_RENAME = {"p": "u1", "cp": "cu1", "u": "u3"}

THETA = Sym("gate-arg", 0, "theta")  # the angle argument of a definition; its own kind never equals a param
_HALF = div(THETA, Const(2.0))
_PI2 = Const(math.pi / 2)

# name -> (angle argument names, qubit argument names, body as (gate, angles, qubit indices)).
# Bodies use only gates of both stdgates.inc and qelib1.inc and are exact (no global phase).
DEFINITIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, tuple[Expr, ...], tuple[int, ...]], ...]]] = {
    "sx": ((), ("a",), (("h", (), (0,)), ("s", (), (0,)), ("h", (), (0,)))),
    "sxdg": ((), ("a",), (("h", (), (0,)), ("sdg", (), (0,)), ("h", (), (0,)))),
    "swap": ((), ("a", "b"), (("cx", (), (0, 1)), ("cx", (), (1, 0)), ("cx", (), (0, 1)))),
    "crx": (("theta",), ("a", "b"), (("h", (), (1,)), ("crz", (THETA,), (0, 1)), ("h", (), (1,)))),
    "cry": (
        ("theta",),
        ("a", "b"),
        (("ry", (_HALF,), (1,)), ("cx", (), (0, 1)), ("ry", (neg(_HALF),), (1,)), ("cx", (), (0, 1))),
    ),
    "cswap": ((), ("a", "b", "c"), (("cx", (), (2, 1)), ("ccx", (), (0, 1, 2)), ("cx", (), (2, 1)))),
    "iswap": (
        (),
        ("a", "b"),
        (("s", (), (0,)), ("s", (), (1,)), ("h", (), (0,)), ("cx", (), (0, 1)), ("cx", (), (1, 0)), ("h", (), (1,))),
    ),
    "rxx": (
        ("theta",),
        ("a", "b"),
        (("h", (), (0,)), ("h", (), (1,)), ("cx", (), (0, 1)), ("rz", (THETA,), (1,)), ("cx", (), (0, 1)),
         ("h", (), (0,)), ("h", (), (1,))),
    ),
    "ryy": (
        ("theta",),
        ("a", "b"),
        (("rx", (_PI2,), (0,)), ("rx", (_PI2,), (1,)), ("cx", (), (0, 1)), ("rz", (THETA,), (1,)),
         ("cx", (), (0, 1)), ("rx", (neg(_PI2),), (0,)), ("rx", (neg(_PI2),), (1,))),
    ),
    "rzz": (("theta",), ("a", "b"), (("cx", (), (0, 1)), ("rz", (THETA,), (1,)), ("cx", (), (0, 1)))),
}


def needs_definition(name: str, version: int) -> bool:
    """True when ``name`` must be defined in the emitted file (not in the standard include)."""
    if version == 3:
        return name != "u" and name not in STDGATES
    return name not in QASM2_RENAME and name not in QELIB1
