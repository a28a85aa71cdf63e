"""BatchNorm folding (neurosim.passes.fold_bn) against torch's own eval-mode forward, float64."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("spikingjelly")

from neurosim.errors import FrontendError  # noqa: E402
from neurosim.passes import fold_bn  # noqa: E402


def _random_bn(bn, g):
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1, generator=g)
        bn.running_var.uniform_(0.3, 2.0, generator=g)
        bn.weight.uniform_(0.5, 1.5, generator=g)
        bn.bias.uniform_(-0.5, 0.5, generator=g)
    return bn


def _conv2d(x, w, b, padding, groups=1):
    return torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                      None if b is None else torch.from_numpy(b), padding=padding,
                                      groups=groups).numpy()


def test_conv_then_two_batchnorms_fold_into_one_conv():
    g = torch.Generator().manual_seed(0)
    conv = torch.nn.Conv2d(4, 6, 3, padding=1, bias=True).double()
    bn1, bn2 = (_random_bn(torch.nn.BatchNorm2d(6).double(), g) for _ in range(2))
    seq = torch.nn.Sequential(conv, bn1, bn2).eval()
    x = torch.randn(2, 4, 5, 5, generator=g, dtype=torch.float64)
    expected = seq(x).detach().numpy()
    affine = fold_bn.compose(fold_bn.bn_of(bn1, "bn1"), fold_bn.bn_of(bn2, "bn2"))
    w, b = fold_bn.fold(conv.weight.detach().numpy(), conv.bias.detach().numpy(), affine)
    np.testing.assert_allclose(_conv2d(x.numpy(), w, b, 1), expected, rtol=0, atol=1e-12)


def test_linear_without_bias_then_batchnorm1d():
    g = torch.Generator().manual_seed(1)
    lin = torch.nn.Linear(7, 3, bias=False).double()
    bn = _random_bn(torch.nn.BatchNorm1d(3).double(), g)
    seq = torch.nn.Sequential(lin, bn).eval()
    x = torch.randn(4, 7, generator=g, dtype=torch.float64)
    w, b = fold_bn.fold(lin.weight.detach().numpy(), None, fold_bn.bn_of(bn, "bn"))
    np.testing.assert_allclose(x.numpy() @ w.T + b, seq(x).detach().numpy(), rtol=0, atol=1e-12)


@pytest.fixture
def repconv_bn():
    """SDT-V2's q_conv: Sequential(RepConv(6, 6), BatchNorm2d(6)) with random BN statistics (eval)."""
    from neurosim.zoo._spikeformer_modules import RepConv

    g = torch.Generator().manual_seed(2)
    torch.manual_seed(2)
    seq = torch.nn.Sequential(RepConv(6, 6), torch.nn.BatchNorm2d(6)).double()
    for m in seq.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            _random_bn(m, g)
    return seq.eval()


def _repconv_arrays(seq):
    rep, outer = seq[0], seq[1]
    conv1, bnpad, dw, conv3, bn3 = rep.body[0], rep.body[1], rep.body[2][0], rep.body[2][1], rep.body[2][2]
    w1, t1 = fold_bn.fold(conv1.weight.detach().numpy(), None, fold_bn.bn_of(bnpad.bn, "pad"))
    w3, b3 = fold_bn.fold(conv3.weight.detach().numpy(), None,
                          fold_bn.compose(fold_bn.bn_of(bn3, "bn3"), fold_bn.bn_of(outer, "outer")))
    return w1, t1, dw.weight.detach().numpy(), w3, b3


def test_repconv_chain_is_exact(repconv_bn):
    """1x1 with zero padding 1 (the folded pad value is its bias), depthwise 3x3, 1x1 == RepConv + BN + BN."""
    x = torch.randn(1, 6, 5, 7, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    expected = repconv_bn(x).detach().numpy()
    w1, t1, w2, w3, b3 = _repconv_arrays(repconv_bn)
    y = _conv2d(_conv2d(_conv2d(x.numpy(), w1, t1, 1), w2, None, 0, groups=6), w3, b3, 0)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)


def test_repconv_merged_is_one_3x3_conv(repconv_bn):
    x = torch.randn(2, 6, 6, 4, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    expected = repconv_bn(x).detach().numpy()
    k, bias = fold_bn.merge_repconv(*_repconv_arrays(repconv_bn))
    assert k.shape == (6, 6, 3, 3) and bias.shape == (6,)
    np.testing.assert_allclose(_conv2d(x.numpy(), k, bias, 1), expected, rtol=0, atol=1e-12)


def test_batchnorm_in_training_mode_is_refused():
    bn = torch.nn.BatchNorm2d(3).train()
    with pytest.raises(FrontendError, match=r"^layer 'x' is a BatchNorm in training mode, whose forward uses the "
                                            r"batch's statistics; call model\.eval\(\) before importing it$"):
        fold_bn.bn_of(bn, "layer 'x'")


def test_batchnorm_without_running_statistics_is_refused():
    bn = torch.nn.BatchNorm2d(3, track_running_stats=False).eval()
    with pytest.raises(FrontendError, match=r"^layer 'x' is a BatchNorm without running statistics "
                                            r"\(track_running_stats=False\), which normalises by each batch; "):
        fold_bn.bn_of(bn, "layer 'x'")


def test_bn_affine_defaults_without_affine_parameters():
    s, t = fold_bn.bn_affine(None, None, np.array([1.0, -2.0]), np.array([3.0, 0.0]), 1.0)
    np.testing.assert_array_equal(s, [0.5, 1.0])
    np.testing.assert_array_equal(t, [-0.5, 2.0])
