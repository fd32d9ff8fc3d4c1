"""The qcomp IR: expressions, the gate library, operations, the circuit graph and programs."""

from .circuit import Circuit
from .expr import Binary, CompiledExprs, Const, Expr, Func, Neg, Sym, as_expr
from .gates import ALIASES, GATES, GateDef, inverse, lookup
from .ops import Observable, Operation, PauliTerm, Register, ValueDecl, make_unitary_op
from .program import Program
from .verify import IRVerificationError, verify_circuit

__all__ = [
    "ALIASES",
    "Binary",
    "Circuit",
    "CompiledExprs",
    "Const",
    "Expr",
    "Func",
    "GATES",
    "GateDef",
    "IRVerificationError",
    "Neg",
    "Observable",
    "Operation",
    "PauliTerm",
    "Program",
    "Register",
    "Sym",
    "ValueDecl",
    "as_expr",
    "inverse",
    "lookup",
    "make_unitary_op",
    "verify_circuit",
]
