r"""Fold inference-mode BatchNorm into the preceding convolution or linear layer.

At inference a BatchNorm is the per-channel affine map

.. math::

    \mathrm{BN}(x)_c = s_c x_c + t_c, \qquad s_c = \frac{\gamma_c}{\sqrt{\sigma_c^2 + \epsilon}}, \qquad
    t_c = \beta_c - \mu_c s_c

(:func:`bn_affine`), so a projection ``y = W * x + b`` followed by it is the projection
``W'_c = s_c W_c``, ``b'_c = s_c b_c + t_c`` (:func:`fold`), and a BatchNorm after a BatchNorm is one
affine map ``(s_2 s_1, s_2 t_1 + t_2)`` (:func:`compose`). Both are exact up to float rounding; the
IR's BatchNorm node keeps no statistics, so the fold happens on the values while a model is
imported (:mod:`neurosim.frontends.torch.spikingjelly` calls it), never after.

**RepConv** of Spike-driven Transformer V2 (``1x1 conv -> BNAndPadLayer -> 3x3 depthwise, no padding
-> 1x1 conv -> BN``, then the block's own BN) is folded two ways, both exact:

* :func:`fold_repconv` ``mode="chain"``: three convolutions -- ``1x1`` with the pad BN folded in and
  **zero padding 1** (at a padded position the folded conv gives ``0 * W' + t = t``, which is exactly
  BNAndPadLayer's pad value ``beta - mu gamma / sqrt(var + eps)``), the depthwise ``3x3`` unchanged,
  and the last ``1x1`` with both BNs composed into it. The parameter count is the torch model's minus
  the folded BN parameters (``2C`` each) plus the biases the folds create (``C`` each).
* ``mode="merged"``: the whole chain is one ``3x3`` convolution, padding 1, with bias
  (:func:`merge_repconv`):

  .. math::

      K[o, c, u, v] = \sum_m W_3'[o, m]\, W_2[m, u, v]\, W_1'[m, c] \qquad
      B[o] = b_3'[o] + \sum_m W_3'[o, m]\, t_1[m] \sum_{u, v} W_2[m, u, v]

  because the depthwise conv sees ``W_1' x_{pad} + t_1`` everywhere (``x_{pad}`` the zero-padded input).
  It has ``9 C^2 + C`` parameters where the chain has ``2 C^2 + 9 C`` (+ biases): fewer operations
  to schedule, more weights.

The torch-facing helpers (:func:`bn_of`) read a module's values as float64 and refuse a BatchNorm
in training mode or without running statistics (its forward would not be the fixed affine map).
"""

from __future__ import annotations

import numpy as np

from neurosim.errors import FrontendError


def bn_affine(gamma, beta, mean, var, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """``(s, t)`` of an inference BatchNorm (module docstring); ``gamma``/``beta`` None mean 1 and 0."""
    mean = np.asarray(mean, dtype=np.float64)
    var = np.asarray(var, dtype=np.float64)
    gamma = np.ones_like(mean) if gamma is None else np.asarray(gamma, dtype=np.float64)
    beta = np.zeros_like(mean) if beta is None else np.asarray(beta, dtype=np.float64)
    s = gamma / np.sqrt(var + float(eps))
    return s, beta - mean * s


def compose(first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]):
    """The affine map ``second(first(x))`` of two per-channel affine maps ``(s, t)``."""
    s1, t1 = first
    s2, t2 = second
    return s2 * s1, s2 * t1 + t2


def fold(weight: np.ndarray, bias: np.ndarray | None, affine: tuple[np.ndarray, np.ndarray]):
    """``(W', b')`` of a projection (weight ``[out, ...]``) followed by the affine map ``(s, t)``."""
    s, t = affine
    w = np.asarray(weight, dtype=np.float64)
    b = np.zeros(w.shape[0]) if bias is None else np.asarray(bias, dtype=np.float64)
    return w * s.reshape((-1,) + (1,) * (w.ndim - 1)), s * b + t


def merge_repconv(w1: np.ndarray, t1: np.ndarray, w2: np.ndarray, w3: np.ndarray, b3: np.ndarray):
    """The one ``3x3`` conv (weight, bias) of the folded chain ``w1`` (1x1, bias ``t1``, pad value ``t1``)
    -> ``w2`` (depthwise ``[C, 1, 3, 3]``) -> ``w3`` (1x1, bias ``b3``); see the module docstring."""
    a = w1[:, :, 0, 0]  # [m, c]
    d = w2[:, 0]  # [m, u, v]
    e = w3[:, :, 0, 0]  # [o, m]
    kernel = np.einsum("om,muv,mc->ocuv", e, d, a)
    bias = b3 + e @ (t1 * d.sum(axis=(1, 2)))
    return kernel, bias


# -- torch modules --------------------------------------------------------------------------------


def bn_of(bn, where: str) -> tuple[np.ndarray, np.ndarray]:
    """``(s, t)`` of a torch ``BatchNorm1d``/``BatchNorm2d`` module in eval mode (float64)."""
    if bn.training:
        raise FrontendError(
            f"{where} is a BatchNorm in training mode, whose forward uses the batch's statistics; call "
            f"model.eval() before importing it"
        )
    if bn.running_mean is None or bn.running_var is None:
        raise FrontendError(
            f"{where} is a BatchNorm without running statistics (track_running_stats=False), which "
            f"normalises by each batch; neurosim folds inference BatchNorm only: train with running statistics"
        )

    def f64(t):
        return None if t is None else t.detach().cpu().double().numpy()
    return bn_affine(f64(bn.weight), f64(bn.bias), f64(bn.running_mean), f64(bn.running_var), float(bn.eps))


def bn_parameters(bn) -> int:
    """Learned parameters of a torch BatchNorm (``gamma`` and ``beta``; the statistics are buffers)."""
    return sum(int(p.numel()) for p in bn.parameters())
