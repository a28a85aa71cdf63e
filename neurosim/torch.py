"""neurosim's own small torch spiking modules, for training models that lower exactly to the IR.

torch is an optional dependency: this module imports it at top level, nothing else in neurosim
imports this module (frontends do so lazily).

:class:`LIF` is one timestep of the IR's :class:`~neurosim.ir.nodes.LIF` node with ``gain=1``,
``bias=0``, ``v_reset=0``, ``spike_rule="gt"`` and ``reset_timing="immediate"``::

    v = decay * v + x                  # v is zeros on the first call after reset_state()
    s = heaviside(v - threshold)       # 1.0 where v - threshold > 0 (strictly), else 0.0
    v = v - s * threshold              # reset="subtract"
    v = where(s > 0, 0, v)             # reset="zero" (the same as v * (1 - s), without -0.0/nan)

Run in float64 (``model.double()``) these are the IR's operations in the IR's order, so spikes and
membranes agree bit-for-bit. In the backward pass the Heaviside step uses the fast-sigmoid
surrogate ``ds/dz = 1 / (slope * |z| + 1) ** 2``, and the spike in the reset term is detached
(as snnTorch does), so gradients flow through ``decay * v + x`` only.

``decay`` and ``threshold`` are float64 buffers of the neuron ``shape`` (so 0.9 stays 0.9 in the
state dict and in float64 runs; a float32 model casts them to float32 each step). Calling
``model.float()`` would round them, so do not: build the model in float32 and only cast
parameters, or call ``model.double()``.

N:M structured sparsity (:func:`apply_nm_`, :func:`nm_step_`, :func:`finalize_nm_`) uses the
layout of :mod:`neurosim.ir.nm`: groups of M consecutive entries of ``weight.reshape(out, -1)``.
:class:`BDWP` / :func:`apply_bdwp_` train non-spiking Linear/Conv2d layers with bidirectional N:M
pruning (SAT's BDWP, see :mod:`neurosim.passes.bdwp`).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.nn.utils import parametrize

from neurosim.errors import NMError, ShapeError

__all__ = [
    "BDWP",
    "LIF",
    "NMMask",
    "apply_bdwp_",
    "apply_nm_",
    "finalize_nm_",
    "nm_mask",
    "nm_mask_along",
    "nm_modules",
    "nm_step_",
    "reset_states",
    "run",
    "update_nm_masks_",
]

RESETS = ("subtract", "zero")


def _shape(shape) -> tuple[int, ...]:
    if isinstance(shape, int):
        shape = (shape,)
    try:
        out = tuple(int(d) for d in shape)
    except TypeError:
        raise ShapeError(f"LIF.shape must be an int or a tuple of ints, found {shape!r}") from None
    if not out or any(d <= 0 for d in out) or any(int(d) != d for d in shape):
        raise ShapeError(f"LIF.shape must be a non-empty tuple of positive ints, found {shape!r}")
    return out


class _SpikeFn(torch.autograd.Function):
    """Heaviside(z) = [z > 0] forward; fast-sigmoid surrogate 1 / (slope|z| + 1)^2 backward."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, slope: float) -> torch.Tensor:
        ctx.save_for_backward(z)
        ctx.slope = slope
        return (z > 0).to(z.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (z,) = ctx.saved_tensors
        return grad / (ctx.slope * z.abs() + 1.0) ** 2, None


def spike(z: torch.Tensor, slope: float = 25.0) -> torch.Tensor:
    """``[z > 0]`` as ``z``'s dtype, with the fast-sigmoid surrogate gradient."""
    return _SpikeFn.apply(z, float(slope))


class LIF(nn.Module):
    """Stateful leaky integrate-and-fire population; one timestep per ``forward`` call.

    ``shape`` is the unbatched neuron shape (int or tuple); ``forward(x)`` takes ``[B, *shape]``
    and returns the spikes ``[B, *shape]`` of this step. ``self.v`` holds the (post-reset)
    membrane after the step; :meth:`reset_state` clears it. See the module docstring.
    """

    def __init__(self, shape, decay=0.9, threshold=1.0, reset: str = "subtract",
                 surrogate_slope: float = 25.0) -> None:
        super().__init__()
        self.shape = _shape(shape)
        if reset not in RESETS:
            raise ValueError(f"LIF.reset must be one of {RESETS!r}, found {reset!r}")
        self.reset = reset
        self.surrogate_slope = float(surrogate_slope)
        self.register_buffer("decay", self._param("decay", decay))
        self.register_buffer("threshold", self._param("threshold", threshold))
        if torch.any((self.decay < 0) | (self.decay > 1)):
            raise ValueError(f"LIF.decay must lie in [0, 1], found {self.decay.min().item()!r}..{self.decay.max().item()!r}")
        self.v: torch.Tensor | None = None

    def _param(self, name: str, value) -> torch.Tensor:
        t = torch.as_tensor(value, dtype=torch.float64).detach().clone()
        try:
            return t.expand(self.shape).clone()
        except RuntimeError:
            raise ShapeError(
                f"LIF.{name} of shape {tuple(t.shape)!r} does not broadcast to the neuron shape {self.shape!r}"
            ) from None

    def reset_state(self) -> None:
        self.v = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.shape:
            raise ShapeError(
                f"LIF expects input [batch, *{self.shape!r}], found {tuple(x.shape)!r}; "
                "feed one timestep per call"
            )
        decay = self.decay.to(x.dtype)
        threshold = self.threshold.to(x.dtype)
        v = torch.zeros_like(x) if self.v is None else self.v
        v = decay * v + x
        s = spike(v - threshold, self.surrogate_slope)
        sd = s.detach()
        if self.reset == "subtract":
            v = v - sd * threshold
        else:
            v = torch.where(sd > 0, torch.zeros_like(v), v)
        self.v = v
        return s

    def extra_repr(self) -> str:
        d = self.decay.unique()
        t = self.threshold.unique()
        dv = f"{d.item():g}" if d.numel() == 1 else "per-neuron"
        tv = f"{t.item():g}" if t.numel() == 1 else "per-neuron"
        return (f"shape={self.shape}, decay={dv}, threshold={tv}, reset={self.reset!r}, "
                f"surrogate_slope={self.surrogate_slope:g}")


def reset_states(model: nn.Module) -> None:
    """Call :meth:`LIF.reset_state` on every :class:`LIF` in ``model`` (``model`` included)."""
    for mod in model.modules():
        if isinstance(mod, LIF):
            mod.reset_state()


def run(model: nn.Module, x) -> torch.Tensor:
    """Reset the states, feed ``x[t]`` for every ``t`` of ``x: [T, B, *in]``; return ``[T, B, *out]``.

    ``x`` (tensor or array) is cast to the dtype of the model's first floating parameter, if any.
    """
    x = torch.as_tensor(x)
    p = next((q for q in model.parameters() if q.is_floating_point()), None)
    if p is not None:
        x = x.to(dtype=p.dtype, device=p.device)
    elif not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    reset_states(model)
    return torch.stack([model(x[t]) for t in range(x.shape[0])])


# --------------------------------------------------------------------------------------- N:M


def nm_mask(weight: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """Boolean mask keeping the N largest ``|w|`` of every group of M consecutive entries of
    ``weight.reshape(out, -1)`` (ties: lowest index), shaped like ``weight``.

    Same result as :func:`neurosim.ir.nm.nm_mask`.
    """
    n, m = _check_nm(n, m)
    w = weight.detach().reshape(weight.shape[0], -1)
    if w.shape[1] % m:
        raise NMError(
            f"weight reduction length {w.shape[1]!r} is not a multiple of M={m}; "
            "pad the input dimension or choose another M"
        )
    g = w.abs().reshape(w.shape[0], -1, m)
    order = torch.sort(-g, dim=2, stable=True).indices
    keep = torch.zeros_like(g, dtype=torch.bool)
    keep.scatter_(2, order[:, :, :n], True)
    return keep.reshape(weight.shape)


def _check_nm(n, m) -> tuple[int, int]:
    if not (isinstance(n, int) and isinstance(m, int) and 1 <= n <= m):
        raise NMError(f"N:M must be integers with 1 <= N <= M, found N={n!r}, M={m!r}")
    return n, m


class _STEMask(torch.autograd.Function):
    """``w * mask`` forward; straight-through backward (the dense weight gets the full gradient),
    plus the optional SR-STE term ``lam * (1 - mask) * w``."""

    @staticmethod
    def forward(ctx, w: torch.Tensor, mask: torch.Tensor, lam: float) -> torch.Tensor:
        ctx.save_for_backward(w, mask)
        ctx.lam = lam
        return w * mask

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        w, mask = ctx.saved_tensors
        if ctx.lam:
            grad = grad + ctx.lam * (1 - mask) * w
        return grad, None, None


class NMMask(nn.Module):
    """Parametrization ``weight -> weight * mask`` with a magnitude N:M mask (see :func:`apply_nm_`).

    The mask is a buffer recomputed from the dense weight by :meth:`update` (called by
    :func:`apply_nm_`, every ``update_every`` calls of :meth:`step`, and by :func:`finalize_nm_`).
    """

    def __init__(self, weight: torch.Tensor, n: int, m: int, update_every: int = 1,
                 srste_lambda: float = 0.0) -> None:
        super().__init__()
        self.n, self.m = _check_nm(n, m)
        if not (isinstance(update_every, int) and update_every >= 1):
            raise ValueError(f"update_every must be an int >= 1, found {update_every!r}")
        self.update_every = update_every
        self.srste_lambda = float(srste_lambda)
        self.steps = 0
        self.register_buffer("mask", nm_mask(weight, self.n, self.m).to(weight.dtype))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return _STEMask.apply(w, self.mask.to(w.dtype), self.srste_lambda)

    @torch.no_grad()
    def update(self, dense: torch.Tensor) -> None:
        self.mask.copy_(nm_mask(dense, self.n, self.m))

    def step(self, dense: torch.Tensor) -> None:
        self.steps += 1
        if self.steps % self.update_every == 0:
            self.update(dense)

    def extra_repr(self) -> str:
        return f"{self.n}:{self.m}, update_every={self.update_every}, srste_lambda={self.srste_lambda:g}"


def apply_nm_(module: nn.Module, n: int, m: int, *, update_every: int = 1,
              srste_lambda: float = 0.0) -> nn.Module:
    """Train ``module.weight`` (a Linear or Conv) N:M sparse; returns ``module``.

    The forward pass uses ``weight * mask``; the dense weight is what the optimizer updates
    (straight-through). Call :func:`nm_step_` after every optimizer step and
    :func:`finalize_nm_` after training.
    """
    if not isinstance(getattr(module, "weight", None), torch.Tensor):
        raise NMError(f"apply_nm_ needs a module with a weight, found {type(module).__name__}")
    if parametrize.is_parametrized(module, "weight"):
        raise NMError(f"{type(module).__name__}.weight is already parametrized; apply N:M once")
    param = NMMask(module.weight, n, m, update_every=update_every, srste_lambda=srste_lambda)
    parametrize.register_parametrization(module, "weight", param)
    return module


def nm_modules(model: nn.Module) -> Iterable[tuple[str, nn.Module, NMMask]]:
    """``(name, module, NMMask)`` for every N:M-parametrized weight in ``model``."""
    for name, mod in model.named_modules():
        if parametrize.is_parametrized(mod, "weight"):
            for p in mod.parametrizations.weight:
                if isinstance(p, NMMask):
                    yield name, mod, p


def nm_step_(model: nn.Module) -> None:
    """Count one optimizer step on every N:M mask; masks are recomputed every ``update_every``."""
    for _, mod, p in nm_modules(model):
        p.step(mod.parametrizations.weight.original)


def update_nm_masks_(model: nn.Module) -> None:
    """Recompute every N:M mask from the current dense weights now."""
    for _, mod, p in nm_modules(model):
        p.update(mod.parametrizations.weight.original)


@torch.no_grad()
def finalize_nm_(model: nn.Module) -> dict[str, tuple[int, int]]:
    """Recompute the masks, bake ``weight * mask`` into plain ``weight`` parameters and remove
    the parametrizations, so ``state_dict()`` has plain ``weight`` keys that are exactly N:M.

    Returns ``{module name: (N, M)}`` of the finalized modules.
    """
    done = {}
    for name, mod, p in list(nm_modules(model)):
        p.update(mod.parametrizations.weight.original)
        parametrize.remove_parametrizations(mod, "weight", leave_parametrized=True)
        mod.weight.masked_fill_(p.mask == 0, 0.0)  # +0.0, not w * 0 = -0.0 for negative w
        done[name] = (p.n, p.m)
    return done


# ------------------------------------------------------------------------------------- BDWP


def nm_mask_along(weight: torch.Tensor, n: int, m: int, axis: str = "in") -> torch.Tensor:
    """:func:`nm_mask` with groups along ``axis``: ``"in"`` (the reduction of the forward GEMM) or
    ``"out"`` (output channels: the reduction of the backward-data GEMM). Same result as
    :func:`neurosim.passes.bdwp.nm_mask_along`."""
    if axis == "in":
        return nm_mask(weight, n, m)
    if axis != "out":
        raise NMError(f"N:M axis must be 'in' (forward) or 'out' (backward), found {axis!r}")
    flat = weight.detach().reshape(weight.shape[0], -1)
    if flat.shape[0] % m:
        raise NMError(
            f"the weight's number of output channels is {flat.shape[0]!r}, not a multiple of M={m}; choose another M "
            "or keep this layer dense"
        )
    return nm_mask(flat.t().contiguous(), n, m).t().reshape(weight.shape)


class _BDWPFn(torch.autograd.Function):
    """BDWP for one Linear/Conv: forward with ``w * mask_fwd``, input gradient with ``w * mask_bwd``,
    weight gradient dense (straight through to the dense weight), plus the SR-STE decay
    ``lam * (1 - mask_fwd) * w`` on the pruned weights."""

    @staticmethod
    def forward(ctx, x, w, bias, mask_fwd, mask_bwd, lam, conv):
        ctx.save_for_backward(x, w, mask_fwd, mask_bwd)
        ctx.lam, ctx.conv, ctx.has_bias = lam, conv, bias is not None
        wf = w * mask_fwd
        if conv is None:
            return nn.functional.linear(x, wf, bias)
        stride, padding, dilation, groups = conv
        return nn.functional.conv2d(x, wf, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, gy):
        x, w, mask_fwd, mask_bwd = ctx.saved_tensors
        wb = w * mask_bwd
        if ctx.conv is None:
            gx = gy @ wb
            gw = gy.reshape(-1, gy.shape[-1]).t() @ x.reshape(-1, x.shape[-1])
            gb = gy.reshape(-1, gy.shape[-1]).sum(0) if ctx.has_bias else None
        else:
            stride, padding, dilation, groups = ctx.conv
            gx = torch.nn.grad.conv2d_input(x.shape, wb, gy, stride, padding, dilation, groups)
            gw = torch.nn.grad.conv2d_weight(x, w.shape, gy, stride, padding, dilation, groups)
            gb = gy.sum((0, 2, 3)) if ctx.has_bias else None
        if ctx.lam:
            gw = gw + ctx.lam * (1 - mask_fwd) * w
        return gx, gw, gb, None, None, None, None


class BDWP(nn.Module):
    """Wraps a Linear or Conv2d so it trains with BDWP N:M sparsity (see :func:`apply_bdwp_`).

    Both masks are recomputed from the dense weight by magnitude before every training forward
    pass (in eval mode: the masks of the last training step). ``sparse_weight(axis)`` gives the
    pruned weight that the forward (``"in"``) or backward (``"out"``) GEMM uses.
    """

    def __init__(self, module: nn.Module, n: int, m: int, srste_lambda: float = 0.0) -> None:
        super().__init__()
        if not isinstance(module, (nn.Linear, nn.Conv2d)):
            raise NMError(f"BDWP wraps torch.nn.Linear or Conv2d, found {type(module).__name__}; keep that layer dense")
        self.n, self.m = _check_nm(n, m)
        self.module = module
        self.srste_lambda = float(srste_lambda)
        self.register_buffer("mask_fwd", nm_mask_along(module.weight, n, m, "in").to(module.weight.dtype))
        self.register_buffer("mask_bwd", nm_mask_along(module.weight, n, m, "out").to(module.weight.dtype))

    @torch.no_grad()
    def update_masks(self) -> None:
        w = self.module.weight
        self.mask_fwd.copy_(nm_mask_along(w, self.n, self.m, "in"))
        self.mask_bwd.copy_(nm_mask_along(w, self.n, self.m, "out"))

    def sparse_weight(self, axis: str = "in") -> torch.Tensor:
        return self.module.weight.detach() * (self.mask_fwd if axis == "in" else self.mask_bwd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.update_masks()
        mod = self.module
        conv = None
        if isinstance(mod, nn.Conv2d):
            if mod.padding_mode != "zeros" or isinstance(mod.padding, str):
                raise NMError(f"BDWP supports Conv2d with numeric zero padding, found padding={mod.padding!r}, "
                              f"padding_mode={mod.padding_mode!r}")
            conv = (mod.stride, mod.padding, mod.dilation, mod.groups)
        return _BDWPFn.apply(x, mod.weight, mod.bias, self.mask_fwd, self.mask_bwd, self.srste_lambda, conv)

    def extra_repr(self) -> str:
        return f"{self.n}:{self.m} bidirectional, srste_lambda={self.srste_lambda:g}"


def apply_bdwp_(model: nn.Module, n: int, m: int, *, skip: Iterable[str] = (), srste_lambda: float = 0.0
                ) -> list[str]:
    """Wrap every Linear/Conv2d of ``model`` (except the module names in ``skip``) in :class:`BDWP`.

    Returns the names of the wrapped modules. Layers whose input length or output channels are
    not a multiple of M cannot be N:M along both axes and raise NMError naming them (skip them).
    """
    skip = set(skip)
    done = []
    for name, mod in list(model.named_modules()):
        for child_name, child in list(mod.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if full in skip or not isinstance(child, (nn.Linear, nn.Conv2d)):
                continue
            try:
                setattr(mod, child_name, BDWP(child, n, m, srste_lambda=srste_lambda))
            except NMError as exc:
                raise NMError(f"layer {full!r}: {exc}; pass skip=[{full!r}] to keep it dense") from None
            done.append(full)
    return done
