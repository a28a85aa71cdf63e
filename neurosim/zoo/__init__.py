"""The field's published workloads as model builders, at their published sizes, with seeded random weights.

* :func:`meta_spikeformer` -- Meta-SpikeFormer / Spike-driven Transformer V2 (Yao et al., ICLR 2024),
  15M / 31M / 55M, a torch ``nn.Module`` with SpikingJelly LIF neurons;
* :func:`spikegpt` -- SpikeGPT (Zhu et al., TMLR 2024), RWKV blocks with spiking activations, 46M / 216M;
* :func:`e3dsnn` -- E-3DSNN (Qiu et al., AAAI 2025), spike sparse 3-D convolution, as a layer
  description (:mod:`neurosim.zoo.e3dsnn`; spconv's sparse convs have no plain-torch form).

Each torch builder reproduces the original code's module hierarchy and parameter names and shapes
(the tests compare ``state_dict`` names -> shapes with the original code); the structure, neuron
semantics and what the IR still lacks for each are in the module docstrings of
``_spikeformer_modules``/``_spikegpt_modules``/``e3dsnn``.

torch and SpikingJelly are optional: ``import neurosim.zoo`` works without them, and a torch builder
called without them raises a :class:`~neurosim.errors.FrontendError` naming the install command.
The returned modules are in ``eval()`` mode (BatchNorm uses its running statistics); their neurons
keep state between calls, so call ``spikingjelly.activation_based.functional.reset_net(model)``
before each new input.
"""

from __future__ import annotations

from neurosim.errors import IRError
from neurosim.zoo._deps import require
from neurosim.zoo.e3dsnn import (
    E3DSNN_SIZES,
    SparseLayer,
    e3dsnn,
    layer_pairs,
    n_params,
    script_flops,
    subm_pairs,
)

__all__ = [
    "E3DSNN_SIZES",
    "META_SPIKEFORMER_SIZES",
    "SPIKEGPT_SIZES",
    "SparseLayer",
    "count_params",
    "e3dsnn",
    "layer_pairs",
    "meta_spikeformer",
    "n_params",
    "script_flops",
    "spikegpt",
    "subm_pairs",
]

#: Embedding dims per stage (Yao et al. 2024, Table 1 / the repo's ``metaspikformer_8_384``/``_8_512``)
#: and the parameter count the paper prints.
META_SPIKEFORMER_SIZES = {
    "15M": dict(embed_dim=(64, 128, 256, 360), published="15.1M"),
    "31M": dict(embed_dim=(96, 192, 384, 480), published="31.3M"),
    "55M": dict(embed_dim=(128, 256, 512, 640), published="55.4M"),
}

#: SpikeGPT configurations. ``216M``: ``run.py`` of the repository (``SpikeGPT-216M``: 18 layers,
#: 768 wide, the 20B-tokenizer vocabulary of 50,277, context 1,024). ``46M``: not in the repository's
#: code; 12 layers x 512 with enwik8's 6,064-character vocabulary is an inference (RWKV-LM's enwik8
#: setting) that gives 47.2 M, not 46 M -- see ``tests/zoo/test_spikegpt.py`` and the research notes.
SPIKEGPT_SIZES = {
    "46M": dict(n_layer=12, n_embd=512, vocab_size=6064, ctx_len=1024, published="46M", source="inferred"),
    "216M": dict(n_layer=18, n_embd=768, vocab_size=50277, ctx_len=1024, published="216M", source="run.py"),
}


def _positive_int(builder: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise IRError(f"neurosim.zoo.{builder}: {name} must be a positive int, found {value!r}")
    return value


def _seeded(torch, seed, builder: str, make):
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise IRError(f"neurosim.zoo.{builder}: seed must be a non-negative int, found {seed!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = make()
    return model.eval()


def meta_spikeformer(size: str = "15M", T: int = 1, num_classes: int = 1000, in_channels: int = 3,
                     seed: int = 0):
    """Meta-SpikeFormer of ``size`` (``"15M"``, ``"31M"``, ``"55M"``) with ``T`` timesteps, seeded random weights.

    Input ``[B, in_channels, H, W]`` (ImageNet: 3 x 224 x 224; any H, W divisible by 16 works),
    output ``[B, num_classes]``. Token grid at stages 3-4: ``H/16 x W/16`` (14 x 14 at 224 px).
    """
    if size not in META_SPIKEFORMER_SIZES:
        raise IRError(f"neurosim.zoo.meta_spikeformer: size must be one of {sorted(META_SPIKEFORMER_SIZES)!r}, "
                      f"found {size!r}")
    T = _positive_int("meta_spikeformer", "T", T)
    num_classes = _positive_int("meta_spikeformer", "num_classes", num_classes)
    in_channels = _positive_int("meta_spikeformer", "in_channels", in_channels)
    torch = require("torch", "meta_spikeformer")
    require("spikingjelly", "meta_spikeformer")
    from neurosim.zoo._spikeformer_modules import MetaSpikeFormer

    dims = META_SPIKEFORMER_SIZES[size]["embed_dim"]
    return _seeded(torch, seed, "meta_spikeformer",
                   lambda: MetaSpikeFormer(dims, T=T, in_channels=in_channels, num_classes=num_classes))


def spikegpt(size: str = "216M", seed: int = 0, **overrides):
    """SpikeGPT of ``size`` (``"46M"``, ``"216M"``; see :data:`SPIKEGPT_SIZES`), seeded random weights.

    ``overrides``: ``n_layer``, ``n_embd``, ``vocab_size``, ``ctx_len``. Input token ids ``[B, L]``
    (``L <= ctx_len``, one token per SNN timestep), output logits ``[B, L, vocab_size]``.
    """
    if size not in SPIKEGPT_SIZES:
        raise IRError(f"neurosim.zoo.spikegpt: size must be one of {sorted(SPIKEGPT_SIZES)!r}, found {size!r}")
    cfg = {k: v for k, v in SPIKEGPT_SIZES[size].items() if k in ("n_layer", "n_embd", "vocab_size", "ctx_len")}
    unknown = sorted(set(overrides) - set(cfg))
    if unknown:
        raise IRError(f"neurosim.zoo.spikegpt: unknown option {unknown[0]!r}; the options are {sorted(cfg)!r}")
    cfg.update(overrides)
    for k, v in cfg.items():
        _positive_int("spikegpt", k, v)
    torch = require("torch", "spikegpt")
    require("spikingjelly", "spikegpt")
    from neurosim.zoo._spikegpt_modules import GPT

    return _seeded(torch, seed, "spikegpt", lambda: GPT(**cfg))


def count_params(model) -> int:
    """``sum(p.numel() for p in model.parameters())`` of a torch module, or :func:`n_params` of a description."""
    if isinstance(model, tuple) and all(isinstance(x, SparseLayer) for x in model):
        return n_params(model)
    return sum(p.numel() for p in model.parameters())
