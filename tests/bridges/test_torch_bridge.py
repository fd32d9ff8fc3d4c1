"""qcomp.torch.QLayer: values match the simulator, gradients pass torch.autograd.gradcheck, hybrid models train."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
qtorch = pytest.importorskip("qcomp.torch")

import qcomp  # noqa: E402
from qcomp.errors import InputError, QCompError  # noqa: E402

REUPLOAD = (Path(__file__).parent / "reupload.q").read_text()


@pytest.fixture(scope="module")
def layer():
    torch.manual_seed(0)
    return qtorch.QLayer(REUPLOAD)


def test_forward_matches_simulator_and_reference(layer):
    from qcomp.backends.reference import expvals

    x = torch.tensor([[0.3, -1.2], [0.9, 0.4], [-0.5, 2.0]], dtype=torch.float64)
    y = layer(x)
    assert y.shape == (3, 2) and y.dtype == torch.float64
    w = layer.weight.detach().numpy()
    ref = expvals(qcomp.compile(REUPLOAD, optimize=0).program, w[None, :].repeat(3, 0), x.numpy())
    np.testing.assert_allclose(y.detach().numpy(), ref, atol=1e-10)
    # one sample (I,) gives (n_outputs,)
    np.testing.assert_allclose(layer(x[1]).detach().numpy(), ref[1], atol=1e-10)


def test_gradcheck_weight_and_inputs(layer):
    w = layer.weight.detach().clone().requires_grad_(True)
    x = torch.tensor([[0.3, -1.2], [0.9, 0.4]], dtype=torch.float64, requires_grad=True)
    fn = lambda w, x: qtorch.QFunction.apply(layer, w, x)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (w, x), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_weight_grad_is_simulator_vjp_and_inputs_get_no_grad_by_default(layer):
    x = torch.tensor([[0.1, 0.7], [-0.3, 1.1]], dtype=torch.float64)
    layer.zero_grad()
    cot = torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=torch.float64)
    (layer(x) * cot).sum().backward()
    sim = layer.simulator
    np.testing.assert_allclose(layer.weight.grad.numpy(),
                               sim.vjp(layer.weight.detach().numpy(), x.numpy(), cot.numpy()), atol=1e-12)
    assert x.grad is None


def test_input_grad_finite_diff_method_agrees():
    torch.manual_seed(1)
    a = qtorch.QLayer(REUPLOAD)
    b = qtorch.QLayer(REUPLOAD, init=a.weight, input_diff_method="finite-diff")
    grads = []
    for lay in (a, b):
        x = torch.tensor([[0.2, -0.4], [1.3, 0.8]], dtype=torch.float64, requires_grad=True)
        lay(x).pow(2).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], atol=1e-6)


def _fd_check(model, loss_fn, n_entries=4, eps=1e-6):
    """Central finite differences of loss_fn() w.r.t. a few entries of every parameter."""
    model.zero_grad()
    loss_fn().backward()
    with torch.no_grad():
        for name, p in model.named_parameters():
            flat = p.view(-1)
            for k in range(min(n_entries, flat.numel())):
                old = flat[k].item()
                flat[k] = old + eps
                up = loss_fn().item()
                flat[k] = old - eps
                down = loss_fn().item()
                flat[k] = old
                fd = (up - down) / (2 * eps)
                assert abs(fd - p.grad.view(-1)[k].item()) < 1e-6, (name, k, fd, p.grad.view(-1)[k].item())


def test_hybrid_sequential_classical_before_and_after():
    torch.manual_seed(2)
    net = torch.nn.Sequential(
        torch.nn.Linear(3, 2, dtype=torch.float64),
        torch.nn.Tanh(),
        qtorch.QLayer(REUPLOAD),
        torch.nn.Linear(2, 1, dtype=torch.float64),
    )
    x = torch.randn(5, 3, dtype=torch.float64)
    y = torch.tensor([[1.0], [-1.0], [1.0], [-1.0], [1.0]], dtype=torch.float64)
    loss_fn = lambda: torch.mean((net(x) - y) ** 2)  # noqa: E731
    # gradients of every layer (including the Linear before the quantum layer) vs finite differences
    _fd_check(net, loss_fn)
    # and the whole hybrid network trains
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    first = loss_fn().item()
    for _ in range(15):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    assert loss_fn().item() < 0.7 * first


def test_float32_network_gets_float32_outputs_and_gradients():
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Linear(4, 2), qtorch.QLayer(REUPLOAD), torch.nn.Linear(2, 1))
    x = torch.randn(6, 4)
    out = net(x)
    assert out.dtype == torch.float32
    out.sum().backward()
    assert net[0].weight.grad is not None and net[0].weight.grad.dtype == torch.float32
    assert net[1].weight.grad.dtype == torch.float64 and torch.isfinite(net[1].weight.grad).all()


def test_program_without_inputs_and_state_dict_roundtrip():
    layer = qtorch.QLayer("qubit q[2]; param w[2]; ry(w[0]) q[0]; cx q[0], q[1]; rx(w[1]) q[1]; expect z(q[1]);",
                          init=[0.4, -0.7])
    y = layer()
    assert y.shape == (1,)
    assert abs(y.item() - np.cos(0.4) * np.cos(-0.7)) < 1e-12
    y.backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(),
                               [-np.sin(0.4) * np.cos(-0.7), -np.cos(0.4) * np.sin(-0.7)], atol=1e-12)
    other = qtorch.QLayer(layer.model, init=np.zeros(2))
    other.load_state_dict(layer.state_dict())
    assert other().item() == pytest.approx(y.item())


def test_misuse_raises_qcomp_errors(layer):
    with pytest.raises(InputError, match=r"expected \(batch, 2\)"):
        layer(torch.zeros(3, 5, dtype=torch.float64))
    with pytest.raises(InputError, match="needs inputs"):
        layer()
    with pytest.raises(InputError, match="9 parameters"):
        qtorch.QLayer(REUPLOAD, init=np.zeros(4))
    with pytest.raises(InputError, match="input_diff_method"):
        qtorch.QLayer(REUPLOAD, input_diff_method="magic")
    with pytest.raises(QCompError, match="NaN"):
        layer(torch.tensor([[float("nan"), 0.0]], dtype=torch.float64))
    with pytest.raises(InputError, match="Model"):
        qtorch.QLayer(42)
