r"""SpikeGPT as an IR graph, built from a :func:`neurosim.zoo.spikegpt` torch module and its weights.

**One IR timestep is one token**: the sequence axis is the SNN's time axis (the LIFs run over token
positions, as in the original), so a run over ``L`` tokens is ``L`` steps of a graph whose every
tensor is per token, ``(C,)``. The graph, per block ``l`` (names ``b{l}.*``)::

    one-hot token (vocab,) -> emb: Dense (C x vocab, = the embedding table) -> spk: Threshold(0, ge)
    [block 0: ln0]  x -> ln1 -> att -> lif1 ;  res1 = Add(x, lif1)
                    res1 -> ln2 -> ffn -> lif2 ;  res2 = Add(res1, lif2)   (= the next block's x)
    ln_out -> head: Dense (vocab x C) -> Output (the logits)

* LayerNorm ``ln*`` = LayerNorm (no affine) -> Scale(gamma) ``.w`` -> Add(constant = beta) ``.b``;
* token shift: ``.shift`` = Delay(1) of the LN output; a mix ``m x + (1 - m) x_{t-1}`` is two Scales
  (``.mk``/``.mk1`` ...) summed at the input of the Dense that reads it;
* TimeMix ``att``: ``key``/``value``/``receptance`` Dense, ``sr`` = GELU(kind="sigmoid"),
  ``wkv`` = :class:`~neurosim.ir.nodes.recurrent.WKV` (operands ``key``, ``value``),
  ``gate`` = :class:`~neurosim.ir.nodes.recurrent.Mul` (``sr``, ``wkv``), ``output`` Dense;
* ChannelMix ``ffn``: ``key`` Dense (4C x C), ``sq`` = SquaredReLU, ``value`` Dense (C x 4C),
  ``receptance`` Dense, ``sr`` sigmoid, ``gate`` Mul (``sr``, ``value``);
* LIF: SpikingJelly ``LIFNode(tau=2, v_threshold=1, v_reset=0)`` = IR LIF decay 0.5, gain 0.5,
  ``ge``, reset to zero (``h = v + (x - v)/2``); dropout is the identity (inference).

Context: the recurrent state is O(1) per token (WKV's ``p, q, o`` per channel, one LIF membrane and
one token-shift register per LN output), so every token costs the same; a context of 1,024 tokens
costs 1,024 x one token. Every Linear reads a real-valued vector (an LN output, a mix, ``relu^2``,
the gated WKV), so all of their work is MACs, at every token and for any firing rate; the spikes
only enter the residual adds (and the one-hot embedding row read, which counts as accumulates).

``python -m neurosim.zoo.spikegpt_ir --size 46M --context 64`` prints the per-token table
(``neurosim metrics``'s report, plus the non-synaptic vector operations of
:mod:`neurosim.metrics.ops_recurrent`).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from neurosim.errors import IRError, UnsupportedError
from neurosim.ir.graph import Graph, Semantics
from neurosim.ir.nodes import GELU, LIF, Add, Delay, Dense, Input, LayerNorm, Output, Scale, Threshold
from neurosim.ir.nodes.recurrent import WKV, Mul, SquaredReLU


def _np(t) -> np.ndarray:
    return t.detach().cpu().to(dtype=__import__("torch").float64).numpy().copy()


class _Builder:
    def __init__(self) -> None:
        self.nodes: dict = {}
        self.edges: list[tuple[str, str]] = []

    def add(self, name: str, node, *srcs: str) -> str:
        self.nodes[name] = node
        self.edges.extend((s, name) for s in srcs)
        return name

    def layer_norm(self, name: str, ln, src: str) -> str:
        c = int(ln.normalized_shape[-1])
        if ln.weight is None or ln.bias is None:
            raise UnsupportedError(f"SpikeGPT module {name!r}: LayerNorm without affine parameters is not the "
                                   f"published model; build it with neurosim.zoo.spikegpt")
        self.add(name, LayerNorm(features=c, eps=float(ln.eps)), src)
        self.add(f"{name}.w", Scale(shape=(c,), scale=_np(ln.weight)), name)
        return self.add(f"{name}.b", Add(constant=_np(ln.bias)), f"{name}.w")

    def mix(self, name: str, m, x: str, xx: str) -> tuple[str, str]:
        """``m x + (1 - m) xx`` as two Scales; the consumer sums them."""
        m = _np(m).reshape(-1)
        c = m.shape[0]
        a = self.add(f"{name}", Scale(shape=(c,), scale=m), x)
        b = self.add(f"{name}1", Scale(shape=(c,), scale=1.0 - m), xx)
        return a, b

    def dense(self, name: str, lin, *srcs: str) -> str:
        if lin.bias is not None:
            raise UnsupportedError(f"SpikeGPT module {name!r}: a Linear with bias is not the published model "
                                   f"(all of its Linears are bias-free); build it with neurosim.zoo.spikegpt")
        return self.add(name, Dense(weight=_np(lin.weight)), *srcs)

    def lif(self, name: str, mod, src: str, c: int) -> str:
        tau, vth, vr = float(mod.tau), float(mod.v_threshold), mod.v_reset
        if tau != 2.0 or vth != 1.0 or vr != 0.0 or not bool(getattr(mod, "decay_input", True)):
            raise UnsupportedError(
                f"SpikeGPT module {name!r}: LIF with tau={tau!r}, v_threshold={vth!r}, v_reset={vr!r} is not the "
                f"published neuron (tau 2, threshold 1, reset to 0, decay_input); build it with neurosim.zoo.spikegpt")
        return self.add(name, LIF(shape=(c,), decay=1.0 - 1.0 / tau, gain=1.0 / tau, threshold=vth, v_reset=0.0,
                                  reset="zero", spike_rule="ge"), src)


def _count(module) -> int:
    return int(sum(p.numel() for p in module.parameters()))


def spikegpt_graph(model) -> Graph:
    """The IR graph of ``model``, a :func:`neurosim.zoo.spikegpt` module (see the module docstring).

    Raises :class:`~neurosim.errors.UnsupportedError` naming the module when it is not the zoo's
    SpikeGPT structure (another class, a Linear with bias, a different LIF)."""
    from neurosim.zoo import _spikegpt_modules as sg

    if not isinstance(model, sg.GPT):
        raise UnsupportedError(f"spikegpt_graph takes a neurosim.zoo.spikegpt(...) module, found "
                               f"{type(model).__name__!r}; build the model with neurosim.zoo.spikegpt")
    vocab, c = int(model.emb.num_embeddings), int(model.emb.embedding_dim)
    g = _Builder()
    g.add("tokens", Input(shape=(vocab,)))
    g.add("emb", Dense(weight=_np(model.emb.weight).T.copy()), "tokens")
    x = g.add("spk", Threshold(shape=(c,), threshold=0.0, spike_rule="ge"), "emb")
    for i, blk in enumerate(model.blocks):
        p = f"b{i}"
        if not isinstance(blk, sg.Block) or not isinstance(blk.att, sg.RWKV_TimeMix) \
                or not isinstance(blk.ffn, sg.RWKV_ChannelMix):
            raise UnsupportedError(f"SpikeGPT module 'blocks.{i}' is a {type(blk).__name__!r}, not the zoo's RWKV "
                                   f"Block; build the model with neurosim.zoo.spikegpt")
        if blk.layer_id == 0:
            x = g.layer_norm(f"{p}.ln0", blk.ln0, x)
        # TimeMix
        h = g.layer_norm(f"{p}.ln1", blk.ln1, x)
        hh = g.add(f"{p}.att.shift", Delay(shape=(c,), delay_steps=1), h)
        att = blk.att
        k = g.dense(f"{p}.att.key", att.key, *g.mix(f"{p}.att.mk", att.time_mix_k, h, hh))
        v = g.dense(f"{p}.att.value", att.value, *g.mix(f"{p}.att.mv", att.time_mix_v, h, hh))
        r = g.dense(f"{p}.att.receptance", att.receptance, *g.mix(f"{p}.att.mr", att.time_mix_r, h, hh))
        sr = g.add(f"{p}.att.sr", GELU(kind="sigmoid"), r)
        w = g.add(f"{p}.att.wkv", WKV(time_decay=_np(att.time_decay), time_first=_np(att.time_first)), k, v)
        y = g.add(f"{p}.att.gate", Mul(), sr, w)
        o = g.dense(f"{p}.att.output", att.output, y)
        s1 = g.lif(f"{p}.lif1", blk.lif1, o, c)
        x = g.add(f"{p}.res1", Add(), x, s1)
        # ChannelMix
        h = g.layer_norm(f"{p}.ln2", blk.ln2, x)
        hh = g.add(f"{p}.ffn.shift", Delay(shape=(c,), delay_steps=1), h)
        ffn = blk.ffn
        k = g.dense(f"{p}.ffn.key", ffn.key, *g.mix(f"{p}.ffn.mk", ffn.time_mix_k, h, hh))
        sq = g.add(f"{p}.ffn.sq", SquaredReLU(), k)
        kv = g.dense(f"{p}.ffn.value", ffn.value, sq)
        r = g.dense(f"{p}.ffn.receptance", ffn.receptance, *g.mix(f"{p}.ffn.mr", ffn.time_mix_r, h, hh))
        sr = g.add(f"{p}.ffn.sr", GELU(kind="sigmoid"), r)
        y = g.add(f"{p}.ffn.gate", Mul(), sr, kv)
        s2 = g.lif(f"{p}.lif2", blk.lif2, y, c)
        x = g.add(f"{p}.res2", Add(), x, s2)
    h = g.layer_norm("ln_out", model.ln_out, x)
    head = g.dense("head", model.head, h)
    g.add("logits", Output(shape=(vocab,)), head)
    notes = (f"SpikeGPT (neurosim.zoo.spikegpt): {len(model.blocks)} blocks x {c}, vocabulary {vocab}; "
             f"source model parameters {_count(model):,}",
             "one timestep = one token (the LIFs run over token positions); input: one-hot token ids [T, vocab]")
    return Graph(g.nodes, tuple(g.edges), Semantics(profile="torch", notes=notes))


def learned_params(graph: Graph) -> int:
    """The torch model's parameters as the graph holds them: the Dense weights, WKV's two vectors, the
    LayerNorms' gamma (``.w``) and beta (``.b``) and each token-shift mix ``m`` once (its ``1 - m``
    Scale, ``.m?1``, is derived). Neuron constants and delays are not parameters."""
    total = 0
    for name, node in graph.nodes.items():
        if isinstance(node, (Dense, WKV)):
            total += node.n_params()
        elif isinstance(node, Scale) and not name.endswith("1"):
            total += node.scale.size
        elif isinstance(node, Add) and node.constant is not None:
            total += node.constant.size
    return int(total)


def one_hot(ids, vocab: int) -> np.ndarray:
    """Token ids ``[L]`` (or ``[L, B]``) as the graph's input ``[L, (B,) vocab]`` (int8 one-hot)."""
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu" or ids.size == 0 or ids.min() < 0 or ids.max() >= vocab:
        shown = ids.dtype if ids.dtype.kind not in "iu" or ids.size == 0 else int(ids.min() if ids.min() < 0
                                                                                  else ids.max())
        raise IRError(f"SpikeGPT token ids must be integers in 0..{vocab - 1}, found {shown!r}; give "
                      f"vocabulary indices")
    out = np.zeros(ids.shape + (vocab,), dtype=np.int8)
    np.put_along_axis(out, ids[..., None], 1, axis=-1)
    return out


def per_token_report(size: str, context: int, seed: int = 0, **overrides) -> dict:
    """Build SpikeGPT ``size``, run ``context`` seeded random tokens through the reference and return
    ``neurosim metrics``'s report (per sequence) plus ``per_token`` figures and the vector ops."""
    import time

    from neurosim import zoo
    from neurosim.metrics.ops_recurrent import VECTOR_PJ, vector_ops
    from neurosim.metrics.report import counts_of, metrics_report

    t0 = time.perf_counter()
    model = zoo.spikegpt(size, seed=seed, **overrides).eval()
    graph = spikegpt_graph(model)
    vocab = graph.nodes["tokens"].shape[0]
    ids = np.random.default_rng(seed).integers(0, vocab, size=context)
    x = one_hot(ids, vocab)[:, None]
    counts = counts_of(graph, x)
    doc = metrics_report(graph, counts, model=f"SpikeGPT-{size}")
    ops = vector_ops(graph)
    vec_pj = sum(n * VECTOR_PJ[k] for k, n in ops.items())
    doc["per_token"] = {
        "context": context,
        "source_params": _count(model),
        "graph_params": learned_params(graph),
        "fl_mac": doc["levels"]["a"]["fl_mac"] / context,
        "sop": doc["levels"]["a"]["sop"] / context,
        "energy_a_pj": doc["totals"]["energy_a_pj"] / context,
        "energy_b_pj": doc["totals"]["energy_b_pj"] / context,
        "vector_ops": ops,
        "vector_pj": vec_pj,
        "lif_spikes": sum(p.spikes_out for p in counts.populations) / context,
        "lif_neurons": sum(p.neurons for p in counts.populations),
    }
    doc["per_token"]["seconds"] = time.perf_counter() - t0
    return doc


def main(argv=None) -> int:
    from neurosim.commands import console
    from neurosim.metrics.ops_recurrent import VECTOR_PJ, VECTOR_SOURCE
    from neurosim.metrics.report import print_metrics
    from neurosim.report.units import format_energy

    ap = argparse.ArgumentParser(prog="python -m neurosim.zoo.spikegpt_ir",
                                 description="SpikeGPT per-token estimates (levels (a) and (b))")
    ap.add_argument("--size", default="46M", choices=("46M", "216M"))
    ap.add_argument("--context", type=int, default=64, help="tokens run through the reference (default 64)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layers", action="store_true", help="print the per-layer table too")
    args = ap.parse_args(argv)
    doc = per_token_report(args.size, args.context, args.seed)
    con = console()
    if args.layers:
        print_metrics(doc, con)
    pt = doc["per_token"]
    con.print(f"SpikeGPT-{args.size}: source params {pt['source_params']:,}, graph params {pt['graph_params']:,}; "
              f"{args.context} tokens, {pt['seconds']:.1f} s")
    con.print(f"per token: FL_MAC {pt['fl_mac']:,.0f}, SOP {pt['sop']:,.1f}, LIF spikes {pt['lif_spikes']:.1f} of "
              f"{pt['lif_neurons']:,} neurons")
    con.print(f"per token: (a) {format_energy(pt['energy_a_pj'])}, (b) {format_energy(pt['energy_b_pj'])}")
    ops = ", ".join(f"{k} {n:,}" for k, n in pt["vector_ops"].items())
    con.print(f"per token, vector ops (not in (a)/(b)): {ops} = {format_energy(pt['vector_pj'])} "
              f"({', '.join(f'{k} {v} pJ' for k, v in VECTOR_PJ.items())}; {VECTOR_SOURCE})")
    con.print(f"context 1,024 (state O(1) per token, so 1,024 x per token): (a) "
              f"{format_energy(1024 * pt['energy_a_pj'])}, (b) {format_energy(1024 * pt['energy_b_pj'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
