"""neurosim.zoo.meta_spikeformer: published parameter counts, the original code's state dict, forward, neurons.

Oracles: the parameter counts the paper prints (Yao et al., ICLR 2024, Table: 15.1M, 31.3M, 55.4M);
the original ``classification/models.py`` of BICLab/Spike-Driven-Transformer-V2 (commit 35f245f) when
``NEUROSIM_SDT_V2_MODELS`` names a copy of it (the repository has no license file, so it is not
vendored here; its imports of SpikingJelly 0.0.0.0.12, timm, einops and torchinfo are shimmed);
SpikingJelly's LIF equations written out by hand; BatchNorm's value at zero for the pad layer.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("spikingjelly")

from spikingjelly.activation_based import functional

from neurosim.errors import IRError
from neurosim.zoo import META_SPIKEFORMER_SIZES, count_params, meta_spikeformer
from neurosim.zoo._spikeformer_modules import BNAndPadLayer, lif

UPSTREAM = os.environ.get("NEUROSIM_SDT_V2_MODELS")


@pytest.mark.parametrize("size", sorted(META_SPIKEFORMER_SIZES))
def test_parameter_count_equals_the_published_figure(size):
    with torch.device("meta"):
        n = count_params(meta_spikeformer(size))
    assert f"{n / 1e6:.1f}M" == META_SPIKEFORMER_SIZES[size]["published"]


def _shim_modules(monkeypatch):
    """Stand-ins for the original's imports (SpikingJelly 0.0.0.0.12 clock_driven, timm, einops, torchinfo)."""
    from spikingjelly.activation_based import neuron

    def mod(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, m)
        return m

    def multistep(*args, backend=None, **kwargs):
        return neuron.LIFNode(*args, step_mode="m", **kwargs)

    mod("torchinfo")
    mod("spikingjelly.clock_driven")
    mod("spikingjelly.clock_driven.neuron", MultiStepLIFNode=multistep, MultiStepParametricLIFNode=multistep)
    mod("spikingjelly.clock_driven.layer")
    sys.modules["spikingjelly.clock_driven"].neuron = sys.modules["spikingjelly.clock_driven.neuron"]
    sys.modules["spikingjelly.clock_driven"].layer = sys.modules["spikingjelly.clock_driven.layer"]
    mod("timm")
    mod("timm.models", create_model=None)
    mod("timm.models.layers", to_2tuple=lambda x: (x, x), trunc_normal_=torch.nn.init.trunc_normal_,
        DropPath=torch.nn.Identity)
    mod("timm.models.registry", register_model=lambda f: f)
    mod("timm.models.vision_transformer", _cfg=dict)
    mod("einops")
    mod("einops.layers")
    mod("einops.layers.torch", Rearrange=torch.nn.Identity)


@pytest.fixture
def upstream(monkeypatch):
    if not UPSTREAM or not Path(UPSTREAM).is_file():
        pytest.skip("set NEUROSIM_SDT_V2_MODELS to a copy of Spike-Driven-Transformer-V2 classification/models.py")
    _shim_modules(monkeypatch)
    ns: dict = {"__name__": "sdt_v2_models"}
    # the file the user named runs here on purpose: it is the oracle under test
    exec(compile(Path(UPSTREAM).read_text(encoding="utf-8"), UPSTREAM, "exec"), ns)  # noqa: S102
    return ns


@pytest.mark.upstream
@pytest.mark.parametrize("size", sorted(META_SPIKEFORMER_SIZES))
def test_state_dict_equals_the_original(upstream, size):
    dims = list(META_SPIKEFORMER_SIZES[size]["embed_dim"])
    theirs = upstream["Spiking_vit_MetaFormer"](  # on the CPU: its drop-path schedule calls .item()
        img_size_h=224, img_size_w=224, patch_size=16, embed_dim=dims, num_heads=8, mlp_ratios=4,
        in_channels=3, num_classes=1000, qkv_bias=False, depths=8, sr_ratios=1)
    with torch.device("meta"):
        ours = meta_spikeformer(size)
    want = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == want
    assert count_params(ours) == sum(p.numel() for p in theirs.parameters())


@pytest.mark.upstream
def test_forward_equals_the_original(upstream):
    ours = meta_spikeformer("15M", T=2, num_classes=10, seed=1)
    theirs = upstream["Spiking_vit_MetaFormer"](embed_dim=[64, 128, 256, 360], num_heads=8, mlp_ratios=4,
                                                 in_channels=3, num_classes=10, depths=8, sr_ratios=1).eval()
    theirs.T = 2
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 3
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("T", [1, 4])
def test_forward_at_small_input(T):
    model = meta_spikeformer("15M", T=T, seed=0)
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))  # 2 x 2 tokens at stages 3-4
    with torch.no_grad():
        y = model(x)
        functional.reset_net(model)
        y2 = model(x)
    assert y.shape == (1, 1000)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y, y2, rtol=0, atol=0)  # reset_net clears every neuron's state


def test_same_seed_same_weights_other_seed_other_weights():
    a, b, c = (meta_spikeformer("15M", num_classes=10, seed=s).state_dict() for s in (7, 7, 8))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["downsample1_1.encode_conv.weight"], c["downsample1_1.encode_conv.weight"])


@pytest.mark.parametrize("threshold", [1.0, 0.5])
def test_lif_follows_spikingjelly_equations(threshold):
    node = lif(threshold)
    x = torch.randn(8, 4, 6, generator=torch.Generator().manual_seed(3)) * 1.5
    s = node(x).numpy()
    v = np.zeros((4, 6))
    for t in range(8):
        h = v + (x[t].numpy() - v) / 2.0
        st = (h >= threshold).astype(np.float64)
        np.testing.assert_array_equal(s[t], st)
        v = h * (1 - st)
    assert s.any() and not s.all()


def test_bn_and_pad_pads_with_the_value_bn_gives_zero():
    layer = BNAndPadLayer(pad_pixels=1, num_features=3).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        layer.bn.running_mean.copy_(torch.randn(3, generator=g))
        layer.bn.running_var.copy_(torch.rand(3, generator=g) + 0.5)
        layer.bn.weight.copy_(torch.randn(3, generator=g))
        layer.bn.bias.copy_(torch.randn(3, generator=g))
        y = layer(torch.zeros(1, 3, 4, 4))
    assert y.shape == (1, 3, 6, 6)
    bn = layer.bn
    want = (bn.bias - bn.running_mean * bn.weight / torch.sqrt(bn.running_var + bn.eps)).view(1, 3, 1, 1)
    torch.testing.assert_close(y, want.expand(1, 3, 6, 6))


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(size="8M"), r"^neurosim\.zoo\.meta_spikeformer: size must be one of \['15M', '31M', '55M'\], found '8M'$"),
    (dict(T=0), r"^neurosim\.zoo\.meta_spikeformer: T must be a positive int, found 0$"),
    (dict(T=2.0), r"^neurosim\.zoo\.meta_spikeformer: T must be a positive int, found 2\.0$"),
    (dict(num_classes=-3), r"^neurosim\.zoo\.meta_spikeformer: num_classes must be a positive int, found -3$"),
    (dict(in_channels="3"), r"^neurosim\.zoo\.meta_spikeformer: in_channels must be a positive int, found '3'$"),
    (dict(seed=1.5), r"^neurosim\.zoo\.meta_spikeformer: seed must be a non-negative int, found 1\.5$"),
])
def test_errors(kwargs, match):
    with pytest.raises(IRError, match=match):
        meta_spikeformer(**kwargs)


def test_missing_spikingjelly_names_the_fix(monkeypatch):
    from neurosim.errors import FrontendError

    monkeypatch.setitem(sys.modules, "spikingjelly", None)
    with pytest.raises(FrontendError, match=r"^neurosim\.zoo\.meta_spikeformer needs the optional package "
                                            r"'spikingjelly', which is not installed; install it with "
                                            r"`pip install 'neurosim\[torch\]' spikingjelly`$"):
        meta_spikeformer()
