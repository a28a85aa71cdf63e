"""The torch frontend on conventional DNNs: the five SAT study networks on the meta device, small real
models with real weights, and the errors.

The networks come from ``models/sat_networks.py`` (torch only, the torchvision architectures and
module paths). torchvision itself is not tested: its PyPI wheel (0.28.0, the one matching torch
2.13.0) links ``libtorch_cuda``/``libc10_cuda`` and fails to import next to the CPU torch
(``RuntimeError: operator torchvision::nms does not exist``), and PyTorch's CPU wheel index is not
a dependency this suite may assume.
"""

from __future__ import annotations

import importlib.util
import math
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn

from neurosim import ir
from neurosim.errors import ShapeError, UnsupportedError
from neurosim.frontends.torch import from_torch
from neurosim.ir.nodes.base import is_shape_only

MODELS = Path(__file__).resolve().parents[2] / "models"
NAMES = ("resnet18", "resnet50", "vgg16", "vit_b_16", "mobilenet_v2")
LOWERING_SECONDS: dict[str, float] = {}


def _sat_networks():
    spec = importlib.util.spec_from_file_location("sat_networks", MODELS / "sat_networks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


SAT = _sat_networks()


def _build(name: str) -> nn.Module:
    with torch.device("meta"):
        return SAT.NETWORKS[name]().eval()


_CACHE: dict[str, tuple[nn.Module, ir.Graph]] = {}


def _lowered(name: str) -> tuple[nn.Module, ir.Graph]:
    key = name
    if key not in _CACHE:
        model = _build(name)
        t = time.perf_counter()
        graph = from_torch(model, (3, 224, 224))
        LOWERING_SECONDS[name] = time.perf_counter() - t
        _CACHE[key] = model, graph
    return _CACHE[key]


def _torch_gemms(model: nn.Module) -> dict[str, tuple[str, int, int, int]]:
    """(kind, K, N, rows) of every Conv2d / Linear / attention projection, recorded by torch's own forward."""
    rec: dict[str, tuple[str, int, int, int]] = {}
    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            def conv_hook(mod, inp, out, name=name):
                kh, kw = mod.kernel_size
                rec[name] = ("conv", mod.in_channels // mod.groups * kh * kw, mod.out_channels,
                             out.shape[2] * out.shape[3])
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            def linear_hook(mod, inp, out, name=name):
                rec[name] = ("linear", mod.in_features, mod.out_features, math.prod(out.shape[1:-1]))
            hooks.append(m.register_forward_hook(linear_hook))
        elif isinstance(m, nn.MultiheadAttention):
            def mha_hook(mod, inp, out, name=name):
                tokens, e = inp[0].shape[1], mod.embed_dim
                for part in ("q", "k", "v", "out_proj"):
                    rec[f"{name}.{part}"] = ("linear", e, e, tokens)
            hooks.append(m.register_forward_hook(mha_hook))
    try:
        with torch.no_grad():
            model(torch.empty(1, 3, 224, 224, device="meta"))
    finally:
        for h in hooks:
            h.remove()
    return rec


def _ir_gemms(g: ir.Graph) -> dict[str, tuple[str, int, int, int]]:
    out = {}
    for name in g.order:
        node, shape = g.nodes[name], g.shapes[name]
        if isinstance(node, ir.Conv2d):
            w = node.weight
            out[name] = ("conv", w.shape[1] * w.shape[2] * w.shape[3], w.shape[0], shape[1] * shape[2])
        elif isinstance(node, ir.Dense):
            out[name] = ("linear", node.weight.shape[1], node.weight.shape[0], math.prod(shape[:-1]))
    return out


# ------------------------------------------------------------------------ the five networks


@pytest.mark.parametrize("name", NAMES)
def test_network_gemms_match_torch(name):
    model, g = _lowered(name)
    assert g.shapes["output"] == (1000,)
    want = _torch_gemms(model)
    got = _ir_gemms(g)
    assert got == want
    assert len(got) == {"resnet18": 21, "resnet50": 54, "vgg16": 16, "vit_b_16": 74, "mobilenet_v2": 53}[name]


def test_vit_attention_lowering():
    model, g = _lowered("vit_b_16")
    layers = len(model.encoder.layers)
    matmuls = [n for n in g.order if isinstance(g.nodes[n], ir.MatMul)]
    assert len(matmuls) == 2 * layers == 24
    att = "encoder.layers.encoder_layer_0.self_attention"
    scores, probs, ctx = g.nodes[f"{att}.scores"], g.nodes[f"{att}.softmax"], g.nodes[f"{att}.context"]
    assert isinstance(probs, ir.Softmax)
    assert g.shapes[f"{att}.scores"] == (12, 197, 197)
    assert scores.heads == 12 and scores.transpose_b and not scores.merge_heads
    assert scores.scale == pytest.approx(1 / math.sqrt(768 / 12))
    assert g.predecessors(f"{att}.scores") == (f"{att}.q", f"{att}.k")
    assert g.predecessors(f"{att}.context") == (f"{att}.softmax", f"{att}.v")
    assert ctx.merge_heads and g.shapes[f"{att}.context"] == (197, 768)
    assert g.predecessors(f"{att}.out_proj") == (f"{att}.context",)
    # patch embedding glue, class token, position embedding, class-token readout
    assert [type(g.nodes[n]).__name__ for n in ("reshape", "permute", "cat", "encoder.add", "getitem")] == \
        ["Rearrange"] * 3 + ["Add", "Rearrange"]
    assert g.shapes["cat"] == (197, 768) and g.shapes["getitem"] == (768,)
    assert g.nodes["encoder.add"].constant.shape == (197, 768)
    assert any("class_token" in n for n in g.semantics.notes)


@pytest.mark.parametrize("name", NAMES)
def test_network_parameter_count(name):
    model, g = _lowered(name)
    count = 0
    for node in g.nodes.values():
        if isinstance(node, (ir.Conv2d, ir.Dense)):
            count += node.weight.size + (0 if node.bias is None else node.bias.size)
        elif isinstance(node, (ir.BatchNorm, ir.LayerNorm)):
            count += 2 * node.features  # the IR keeps no affine values; torchvision's norms are all affine
        elif isinstance(node, ir.Add) and node.constant is not None:
            count += node.constant.size
    want = sum(p.numel() for p in model.parameters())
    if name == "vit_b_16":
        want -= model.class_token.numel()  # concatenated by torch.cat: a Rearrange, its values are not kept
    assert count == want


@pytest.mark.parametrize("name", ["vit_b_16", "resnet50"])
def test_meta_lowering_allocates_no_weights(name):
    model = _build(name)
    tracemalloc.start()
    try:
        g = from_torch(model, (3, 224, 224))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20  # the float64 weights would take 200 MB (resnet50) / 690 MB (vit_b_16)
    projections = [g.nodes[n] for n in g.projections()]
    assert projections and all(is_shape_only(p.weight) and p.weight.strides == (0,) * p.weight.ndim
                               for p in projections)
    assert all(p.nm is None for p in projections)  # zero placeholders are not N:M sparse
    assert not any("structured-sparse" in n for n in g.semantics.notes)


def test_lowering_times_recorded():
    for name in NAMES:
        _lowered(name)
    for key, seconds in sorted(LOWERING_SECONDS.items()):
        print(f"lowering {key}: {seconds:.3f} s")
        assert seconds < 10


# --------------------------------------------------------------------- small real models


class _SmallResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8, eps=1e-3)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.pool(self.relu(self.bn1(self.conv1(x))))
        y = self.bn2(self.conv2(x))
        x = self.relu(x + y)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def test_small_real_residual_cnn():
    torch.manual_seed(3)
    model = _SmallResNet().eval()
    g = from_torch(model, (3, 16, 16))
    assert [type(g.nodes[n]).__name__ for n in g.order] == [
        "Input", "Conv2d", "BatchNorm", "ReLU", "MaxPool2d", "Conv2d", "BatchNorm", "Add", "ReLU", "GlobalAvgPool",
        "Flatten", "Dense", "Output"]
    assert g.predecessors("add") == ("pool", "bn2")
    assert g.nodes["relu_1"].kind == "relu" and g.predecessors("relu_1") == ("add",)
    assert g.nodes["bn2"].features == 8 and g.nodes["bn2"].eps == 1e-3
    assert g.shapes["pool"] == (8, 8, 8) and g.shapes["avgpool"] == (8, 1, 1) and g.shapes["output"] == (5,)
    for name, mod in (("conv1", model.conv1), ("conv2", model.conv2), ("fc", model.fc)):
        w = g.nodes[name].weight
        assert w.dtype == np.float64 and not is_shape_only(w)
        assert np.array_equal(w, mod.weight.detach().double().numpy())
    assert np.array_equal(g.nodes["fc"].bias, model.fc.bias.detach().double().numpy())
    assert g.nodes["conv1"].bias is None


class _TinyViT(nn.Module):
    def __init__(self, e: int = 8, heads: int = 2, tokens: int = 5) -> None:
        super().__init__()
        self.embed = nn.Linear(3, e)
        self.pos = nn.Parameter(torch.randn(1, tokens, e))
        self.ln = nn.LayerNorm(e)
        self.attn = nn.MultiheadAttention(e, heads, batch_first=True)
        self.head = nn.Linear(e, 2)

    def forward(self, x):
        x = self.embed(x) + self.pos
        h = self.ln(x)
        y, _ = self.attn(h, h, h, need_weights=False)
        x = x + y
        x = x.transpose(1, 2).contiguous()
        x = x[:, :, 0]
        return torch.softmax(self.head(x), dim=-1)


def test_small_real_attention_weights_split():
    torch.manual_seed(4)
    model = _TinyViT().eval()
    g = from_torch(model, (5, 3))
    e = 8
    w, bias = model.attn.in_proj_weight.detach().double().numpy(), model.attn.in_proj_bias.detach().double().numpy()
    for i, part in enumerate("qkv"):
        node = g.nodes[f"attn.{part}"]
        assert np.array_equal(node.weight, w[i * e:(i + 1) * e])
        assert np.array_equal(node.bias, bias[i * e:(i + 1) * e])
    assert np.array_equal(g.nodes["attn.out_proj"].weight, model.attn.out_proj.weight.detach().double().numpy())
    assert np.array_equal(g.nodes["add"].constant, model.pos.detach().double().numpy()[0])
    assert g.shapes["attn.scores"] == (2, 5, 5) and g.shapes["attn.context"] == (5, 8)
    assert isinstance(g.nodes["add_1"], ir.Add) and set(g.predecessors("add_1")) == {"add", "attn.out_proj"}
    assert g.nodes["transpose"].shape == (8, 5) and "contiguous" not in g.nodes
    assert g.nodes["getitem"].shape == (8,)
    assert isinstance(g.nodes["softmax"], ir.Softmax) and g.shapes["output"] == (2,)


def test_dnn_add_of_two_projections_is_an_add_node():
    class TwoPath(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(4, 3), nn.Linear(4, 3)

        def forward(self, x):
            return self.a(x) + self.b(x)

    g = from_torch(TwoPath(), (4,))
    assert isinstance(g.nodes["add"], ir.Add) and g.predecessors("add") == ("a", "b")


def test_meta_linear_not_nm_but_real_one_is():
    lin = nn.Linear(8, 4).double()
    with torch.no_grad():
        lin.weight.mul_(torch.tensor([1.0, 1, 0, 0, 0, 1, 1, 0], dtype=torch.float64))
    assert from_torch(nn.Sequential(lin), (8,)).nodes["0"].nm == (2, 4)
    with torch.device("meta"):
        meta = nn.Sequential(nn.Linear(8, 4))
    node = from_torch(meta, (8,)).nodes["0"]
    assert node.nm is None and is_shape_only(node.weight) and is_shape_only(node.bias)


def test_adaptive_pool_identity_and_layer_kinds():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d((4, 4)), nn.LeakyReLU(), nn.Hardtanh(),
                        nn.SiLU(), nn.Hardswish(), nn.Flatten(), nn.Linear(32, 6), nn.BatchNorm1d(6), nn.GELU(),
                        nn.Tanh(), nn.Sigmoid(), nn.Softmax(dim=1))
    g = from_torch(net, (1, 6, 6))
    assert "1" not in g.nodes and any("equals its input size" in n for n in g.semantics.notes)
    kinds = {n: (type(g.nodes[n]).__name__, getattr(g.nodes[n], "kind", None)) for n in g.order}
    assert kinds["2"] == ("ReLU", "leaky_relu") and kinds["3"] == ("ReLU", "hardtanh")
    assert kinds["4"] == ("GELU", "silu") and kinds["5"] == ("GELU", "hardswish")
    assert kinds["9"] == ("GELU", "gelu") and kinds["10"] == ("GELU", "tanh") and kinds["11"] == ("GELU", "sigmoid")
    assert kinds["8"][0] == "BatchNorm" and kinds["12"][0] == "Softmax"


def test_spiking_net_with_relu_lowers_and_the_engine_refuses_it():
    from neurosim.targets.neuromorphic.model.compile import compile_graph
    from neurosim.torch import LIF

    g = from_torch(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), LIF(2, decay=0.9)), (4,))
    assert isinstance(g.nodes["1"], ir.ReLU)
    with pytest.raises(UnsupportedError, match=r"^node '1' \(ReLU\) is a non-spiking DNN layer"):
        compile_graph(g, mode="float")


# ----------------------------------------------------------------------------------- errors


class _CrossAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        k = self.fc(x)
        return self.attn(x, k, k)[0]


class _AttentionWeights(nn.Module):
    def __init__(self, batch_first: bool = True) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=batch_first)

    def forward(self, x):
        return self.attn(x, x, x)[1]


class _Fn(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.fc(x))


class _Cat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x)], dim=-1)


def test_unsupported_module_named():
    with pytest.raises(UnsupportedError, match=r"^layer '1' is a torch\.nn\.LSTM, which neurosim cannot import; "
                                               r"supported: .*torch\.nn\.MultiheadAttention"):
        from_torch(nn.Sequential(nn.Linear(4, 4), nn.LSTM(4, 4)), (3, 4))


def test_cross_attention_rejected():
    with pytest.raises(UnsupportedError, match=r"^fx node 'attn' \(call_module attn\) of module .*_CrossAttention "
                                               r"calls nn\.MultiheadAttention with query 'x', key 'fc' and value "
                                               r"'fc'; neurosim lowers self-attention only: pass the same tensor as "
                                               r"query, key and value$"):
        from_torch(_CrossAttention(), (5, 8))


def test_attention_options_rejected():
    with pytest.raises(UnsupportedError, match=r"^fx node 'getitem' \(call_function _operator\.getitem\) of module "
                                               r".*_AttentionWeights takes item 1 \(the attention weights\) of "
                                               r"'attn'; .* use need_weights=False and take item 0$"):
        from_torch(_AttentionWeights(), (5, 8))
    with pytest.raises(UnsupportedError, match=r"^layer 'attn' \(torch\.nn\.MultiheadAttention\) has "
                                               r"batch_first=False, .*: use batch_first=True$"):
        from_torch(_AttentionWeights(batch_first=False), (5, 8))
    with pytest.raises(UnsupportedError, match=r"^layer '0' \(torch\.nn\.MultiheadAttention\) is called with one "
                                               r"input"):
        from_torch(nn.Sequential(nn.MultiheadAttention(8, 2, batch_first=True)), (5, 8))


@pytest.mark.parametrize("layer,shape,pattern", [
    (nn.LayerNorm((4, 8)), (4, 8), (r"^layer '0' \(torch\.nn\.LayerNorm\) has normalized_shape=\(4, 8\), which "
                                    r"normalises over 2 axes; .*: use normalized_shape=\(8,\)")),
    (nn.AdaptiveAvgPool2d((2, 2)), (1, 4, 4), (r"^layer '0' \(torch\.nn\.AdaptiveAvgPool2d\) has output_size="
                                               r"\(2, 2\) on a \(4, 4\) input; .*: use AdaptiveAvgPool2d\(1\)")),
    (nn.Softmax(dim=1), (4, 8), r"^layer '0' \(torch\.nn\.Softmax\) has dim=1; .*: use dim=-1$"),
    (nn.MaxPool2d(2, ceil_mode=True), (1, 5, 5), (r"^layer '0' \(torch\.nn\.MaxPool2d\) has ceil_mode=True, .*; "
                                                  r"use ceil_mode=False$")),
])
def test_dnn_layer_options_rejected(layer, shape, pattern):
    with pytest.raises(UnsupportedError, match=pattern):
        from_torch(nn.Sequential(layer), shape)


def test_glue_errors():
    with pytest.raises(UnsupportedError, match=r"^fx node 'permute' \(call_method permute\) of module .*_Fn "
                                               r"permutes the axes to \(1, 0, 2\), which moves or drops the batch "
                                               r"axis; .* keep axis 0 as the batch$"):
        from_torch(_Fn(lambda t: t.permute(1, 0, 2)), (5, 8))
    with pytest.raises(UnsupportedError, match=r"^fx node 'cat' \(call_function torch\.cat\) of module .*_Cat "
                                               r"combines the outputs of 2 layers \(a, b\) with cat; the IR joins "
                                               r"branches by addition only: use a \+ b$"):
        from_torch(_Cat(), (5, 8))
    with pytest.raises(UnsupportedError, match=r"^fx node 'getitem' \(call_function _operator\.getitem\) of module "
                                               r".*_Fn indexes with 0, which moves or drops the batch axis"):
        from_torch(_Fn(lambda t: t[0]), (5, 8))


def test_add_constant_shape_error():
    class AddParam(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.p = nn.Parameter(torch.zeros(3, 4))

        def forward(self, x):
            return self.fc(x) + self.p

    with pytest.raises(ShapeError, match=r"^fx node 'add' \(call_function _operator\.add\) of module .*AddParam "
                                         r"adds 'p' of shape \(3, 4\) to a layer output of shape \(1, 4\) and "
                                         r"changes its shape; add a constant that broadcasts to the layer output$"):
        from_torch(AddParam(), (4,))
