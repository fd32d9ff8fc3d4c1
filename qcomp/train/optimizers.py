"""First-order optimizers (Adam, SGD with momentum) with resumable state, Keras update rules."""

from __future__ import annotations

from typing import Any

import numpy as np

from qcomp.train.errors import CheckpointError, TrainConfigError

__all__ = ["Adam", "OPTIMIZERS", "Optimizer", "SGD", "get_optimizer"]


def _positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    v = float(value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise TrainConfigError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} number, got {value!r}")
    return v


def _unit(name: str, value: float) -> float:
    v = float(value)
    if not (0.0 <= v < 1.0):
        raise TrainConfigError(f"{name} must be in [0, 1), got {value!r}")
    return v


def _as_vectors(params: Any, grad: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(params, dtype=np.float64)
    g = np.asarray(grad, dtype=np.float64)
    if p.shape != g.shape:
        raise TrainConfigError(f"gradient shape {g.shape} does not match parameter shape {p.shape}")
    return p, g


class Optimizer:
    """Base class. ``step`` returns new parameters and never mutates its inputs."""

    name: str = "optimizer"

    def step(self, params: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """Return the parameters after one update with gradient ``grad``."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters and internal state; numpy arrays and Python scalars only."""
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore hyperparameters and state saved by :meth:`state_dict`."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the internal state (moments, step counter)."""
        raise NotImplementedError

    def _check_name(self, state: dict[str, Any]) -> None:
        got = str(state.get("name", ""))
        if got != self.name:
            raise CheckpointError(
                f"optimizer state is for {got or 'an unknown optimizer'!r}, cannot load it into {self.name!r}"
            )


class Adam(Optimizer):
    """Adam with the Keras update rule and defaults (``eps`` is Keras' "epsilon hat").

    ``m <- b1 m + (1-b1) g``, ``v <- b2 v + (1-b2) g^2``,
    ``p <- p - lr * sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)``.
    (PyTorch adds eps to the bias-corrected ``sqrt(v_hat)`` instead; the difference only
    matters when gradients are ~eps.)

    Example:
        >>> opt = Adam(lr=0.1)
        >>> opt.step(np.array([1.0]), np.array([2.0])).round(6).tolist()
        [0.9]
    """

    name = "adam"

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-7) -> None:
        self.lr = _positive("lr", lr)
        self.beta1 = _unit("beta1", beta1)
        self.beta2 = _unit("beta2", beta2)
        self.eps = _positive("eps", eps, allow_zero=True)
        self.reset()

    def reset(self) -> None:
        self.t = 0
        self.m: np.ndarray | None = None
        self.v: np.ndarray | None = None

    def step(self, params: np.ndarray, grad: np.ndarray) -> np.ndarray:
        p, g = _as_vectors(params, grad)
        if self.m is None or self.v is None or self.m.shape != p.shape:
            if self.t != 0:
                raise TrainConfigError(
                    f"parameter shape changed from {None if self.m is None else self.m.shape} to {p.shape} "
                    "between optimizer steps"
                )
            self.m = np.zeros_like(p)
            self.v = np.zeros_like(p)
        self.t += 1
        self.m = self.beta1 * self.m + (1.0 - self.beta1) * g
        self.v = self.beta2 * self.v + (1.0 - self.beta2) * g * g
        alpha = self.lr * np.sqrt(1.0 - self.beta2**self.t) / (1.0 - self.beta1**self.t)
        return p - alpha * self.m / (np.sqrt(self.v) + self.eps)

    def state_dict(self) -> dict[str, Any]:
        empty = np.zeros(0)
        return {
            "name": self.name,
            "lr": self.lr,
            "beta1": self.beta1,
            "beta2": self.beta2,
            "eps": self.eps,
            "t": self.t,
            "m": empty if self.m is None else self.m.copy(),
            "v": empty if self.v is None else self.v.copy(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._check_name(state)
        try:
            self.lr = _positive("lr", state["lr"])
            self.beta1 = _unit("beta1", state["beta1"])
            self.beta2 = _unit("beta2", state["beta2"])
            self.eps = _positive("eps", state["eps"], allow_zero=True)
            self.t = int(state["t"])
            m = np.array(state["m"], dtype=np.float64)
            v = np.array(state["v"], dtype=np.float64)
        except KeyError as exc:
            raise CheckpointError(f"Adam state is missing {exc.args[0]!r}") from None
        if self.t == 0:
            self.m = self.v = None
        else:
            if m.shape != v.shape:
                raise CheckpointError("Adam state has moment vectors of different shapes")
            self.m, self.v = m, v

    def __repr__(self) -> str:
        return f"Adam(lr={self.lr!r}, beta1={self.beta1!r}, beta2={self.beta2!r}, eps={self.eps!r})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, Keras update rule.

    ``velocity <- momentum * velocity - lr * g``; plain: ``p <- p + velocity``;
    Nesterov: ``p <- p + momentum * velocity - lr * g``.

    Example:
        >>> opt = SGD(lr=0.1, momentum=0.9)
        >>> p = opt.step(np.array([1.0]), np.array([1.0]))
        >>> opt.step(p, np.array([1.0])).round(6).tolist()
        [0.71]
    """

    name = "sgd"

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False) -> None:
        self.lr = _positive("lr", lr)
        self.momentum = _unit("momentum", momentum)
        self.nesterov = bool(nesterov)
        self.reset()

    def reset(self) -> None:
        self.t = 0
        self.velocity: np.ndarray | None = None

    def step(self, params: np.ndarray, grad: np.ndarray) -> np.ndarray:
        p, g = _as_vectors(params, grad)
        self.t += 1
        if self.momentum == 0.0:
            return p - self.lr * g
        if self.velocity is None or self.velocity.shape != p.shape:
            self.velocity = np.zeros_like(p)
        self.velocity = self.momentum * self.velocity - self.lr * g
        if self.nesterov:
            return p + self.momentum * self.velocity - self.lr * g
        return p + self.velocity

    def state_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "lr": self.lr,
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "t": self.t,
            "velocity": np.zeros(0) if self.velocity is None else self.velocity.copy(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._check_name(state)
        try:
            self.lr = _positive("lr", state["lr"])
            self.momentum = _unit("momentum", state["momentum"])
            self.nesterov = bool(state["nesterov"])
            self.t = int(state["t"])
            vel = np.array(state["velocity"], dtype=np.float64)
        except KeyError as exc:
            raise CheckpointError(f"SGD state is missing {exc.args[0]!r}") from None
        self.velocity = vel if vel.size else None

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr!r}, momentum={self.momentum!r}, nesterov={self.nesterov!r})"


OPTIMIZERS: dict[str, type[Optimizer]] = {"adam": Adam, "sgd": SGD}


def get_optimizer(name: str | Optimizer, **kwargs: Any) -> Optimizer:
    """Return a new optimizer by name (``adam`` or ``sgd``); keyword arguments go to its constructor.

    An :class:`Optimizer` instance passes through unchanged (no keyword arguments allowed).
    Options whose value is ``None`` are dropped so CLI defaults can be forwarded blindly.

    Example:
        >>> get_optimizer("sgd", lr=0.1, momentum=0.9)
        SGD(lr=0.1, momentum=0.9, nesterov=False)
    """
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if isinstance(name, Optimizer):
        if kwargs:
            raise TrainConfigError("optimizer options cannot be given together with an Optimizer instance")
        return name
    key = str(name).strip().lower()
    if key not in OPTIMIZERS:
        raise TrainConfigError(
            f"unknown optimizer {name!r}; valid optimizers are: {', '.join(sorted(OPTIMIZERS))}"
        )
    try:
        return OPTIMIZERS[key](**kwargs)
    except TypeError as exc:
        raise TrainConfigError(f"bad options for optimizer {key!r}: {exc}") from None
