"""neurosim.zoo.spikegpt against the original SpikeGPT code (vendored: tests/zoo/data/spikegpt_model.py).

Oracles: the original ``GPT`` (state-dict names and shapes, parameter count, and -- with the same
weights and the same plain-torch WKV -- the logits), a direct O(L^2) evaluation of the WKV formula,
and SpikingJelly's LIF equations written out by hand.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("spikingjelly")

from neurosim.errors import IRError
from neurosim.zoo import SPIKEGPT_SIZES, count_params, spikegpt
from neurosim.zoo._spikegpt_modules import wkv

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    """The vendored original ``src/model.py`` with RUN_WKV = neurosim's plain-torch WKV."""
    sys.path.insert(0, str(DATA))
    try:
        mod = importlib.import_module("spikegpt_model")
    finally:
        sys.path.remove(str(DATA))
    mod.RUN_WKV = lambda w, u, k, v: wkv(w, u, k, v)
    return mod


def _original(upstream, n_layer, n_embd, vocab_size, ctx_len=1024):
    return upstream.GPT(upstream.GPTConfig(vocab_size, ctx_len, model_type="RWKV", n_layer=n_layer, n_embd=n_embd))


def _shapes(model) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("size", sorted(SPIKEGPT_SIZES))
def test_state_dict_equals_the_original_at_full_depth(upstream, size):
    cfg = SPIKEGPT_SIZES[size]
    with torch.device("meta"):
        ours = spikegpt(size)
        theirs = _original(upstream, cfg["n_layer"], cfg["n_embd"], cfg["vocab_size"], cfg["ctx_len"])
    assert _shapes(ours) == _shapes(theirs)
    assert count_params(ours) == sum(p.numel() for p in theirs.parameters())


@pytest.mark.parametrize(("size", "count"), [("216M", 215_399_424), ("46M", 47_173_632)])
def test_counts_of_the_configs(size, count):
    """The original GPT's parameter count at each config (the full-depth test above checks them against it)."""
    with torch.device("meta"):
        assert count_params(spikegpt(size)) == count


@pytest.mark.xfail(strict=True, reason="the repository's SpikeGPT-216M config has 215.4 M parameters; the paper "
                                       "prints 216M (open question for the lead, see the research notes)")
def test_216M_rounds_to_the_published_figure():
    with torch.device("meta"):
        assert f"{count_params(spikegpt('216M')) / 1e6:.0f}M" == "216M"


@pytest.mark.xfail(strict=True, reason="the 46M config is not in the repository's code; 12 x 512 with enwik8's "
                                       "6,064 characters gives 47.2 M (see the research notes)")
def test_46M_rounds_to_the_published_figure():
    with torch.device("meta"):
        assert f"{count_params(spikegpt('46M')) / 1e6:.0f}M" == "46M"


def test_time_parameters_equal_the_original_init(upstream):
    ours = spikegpt("46M", n_layer=3, n_embd=24, vocab_size=30)
    theirs = _original(upstream, 3, 24, 30)
    want = {k: v for k, v in theirs.state_dict().items() if ".time_" in k}
    assert want
    for k, v in want.items():
        torch.testing.assert_close(ours.state_dict()[k], v, rtol=0, atol=0, msg=k)


def test_forward_equals_the_original(upstream):
    ours = spikegpt("46M", n_layer=3, n_embd=32, vocab_size=40, seed=3)
    with torch.no_grad():  # push the LIF inputs above threshold so that spikes occur
        for name, p in ours.named_parameters():
            if p.dim() == 2 and "emb" not in name:
                p.mul_(40.0)
    theirs = _original(upstream, 3, 32, 40).eval()
    theirs.load_state_dict(ours.state_dict())
    captured = {}
    theirs.head.register_forward_hook(lambda m, i, o: captured.setdefault("logits", o))
    spikes = {}
    ours.blocks[1].lif1.register_forward_hook(lambda m, i, o: spikes.setdefault("s", o))
    idx = torch.randint(0, 40, (2, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = ours(idx)
        theirs(idx)
    assert y.shape == (2, 12, 40)
    torch.testing.assert_close(y, captured["logits"], rtol=1e-5, atol=1e-5)
    s = spikes["s"]
    assert set(s.unique().tolist()) == {0.0, 1.0}  # binary and actually spiking


def test_wkv_equals_the_formula():
    g = torch.Generator().manual_seed(1)
    B, L, C = 2, 7, 5
    k, v = torch.randn(B, L, C, generator=g), torch.randn(B, L, C, generator=g)
    decay, first = torch.randn(C, generator=g), torch.randn(C, generator=g)
    w, u = -np.exp(decay.double().numpy()), first.double().numpy()
    kk, vv = k.double().numpy(), v.double().numpy()
    want = np.empty((B, L, C))
    for t in range(L):
        num = sum(np.exp((t - 1 - i) * w + kk[:, i]) * vv[:, i] for i in range(t)) + np.exp(u + kk[:, t]) * vv[:, t]
        den = sum(np.exp((t - 1 - i) * w + kk[:, i]) for i in range(t)) + np.exp(u + kk[:, t])
        want[:, t] = num / den
    np.testing.assert_allclose(wkv(decay, first, k, v).numpy(), want, rtol=1e-5, atol=1e-6)


def test_block_lif_follows_spikingjelly_equations():
    lif = spikegpt("46M", n_layer=1, n_embd=8, vocab_size=4).blocks[0].lif1
    x = torch.randn(6, 3, 8, generator=torch.Generator().manual_seed(2)) * 2
    s = lif(x).numpy()
    v = np.zeros((3, 8))
    for t in range(6):
        h = v + (x[t].numpy() - v) / 2.0
        st = (h >= 1.0).astype(np.float64)
        np.testing.assert_array_equal(s[t], st)
        v = h * (1 - st)


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(size="1B"), r"^neurosim\.zoo\.spikegpt: size must be one of \['216M', '46M'\], found '1B'$"),
    (dict(n_head=4), (r"^neurosim\.zoo\.spikegpt: unknown option 'n_head'; the options are \['ctx_len', 'n_embd', "
                      r"'n_layer', 'vocab_size'\]$")),
    (dict(n_layer=0), r"^neurosim\.zoo\.spikegpt: n_layer must be a positive int, found 0$"),
    (dict(n_embd=True), r"^neurosim\.zoo\.spikegpt: n_embd must be a positive int, found True$"),
    (dict(n_layer=1, n_embd=8, vocab_size=4, seed=-1),
     r"^neurosim\.zoo\.spikegpt: seed must be a non-negative int, found -1$"),
])
def test_errors(kwargs, match):
    with pytest.raises(IRError, match=match):
        spikegpt(**kwargs)
