"""Accuracy of the bundled models after quantization, measured on the whole 540-sample test set.

    python models/quantization_report.py [--bits 4 6 8] [--kinds mlp conv mlp_nm24] [--state-bits 16] [--acc-bits 32]

For each bundled model (``models/digits_<kind>.nsim``) and each weight width, runs the float
reference (``neurosim.targets.neuromorphic.model.reference.run(graph, x, batched=True)``) and the fixed reference
(``mode="fixed"``) of ``neurosim.passes.quantize(graph, weight_bits=b, ...)`` on the encoded test
set of ``models/train_digits.py`` (``load_split`` -> ``encode(T=16, seed=1234)`` -> ``layout``),
and prints a markdown table:

* float acc: the original float graph; prediction = argmax of the output spike counts summed
  over T (ties: the lowest class), as in ``train_digits.evaluate``;
* float acc, eff. decay: the original float graph with every decay replaced by the effective
  decay ``1 - 2**-k`` the pass chose (separates the leak change from the weight rounding);
* codes, real arithmetic: the quantized graph (integer codes, decay ``1 - 2**-k``) run in float
  mode, i.e. weight/threshold rounding without the floor of the shift leak and saturation;
* fixed acc: the quantized graph in fixed mode;
* spike agreement: % of output spike entries ``[T, sample, class]`` equal in fixed and float;
* spike agr. vs eff. decay: the same against the float graph with the effective decays (what is
  left is weight/threshold rounding and the floor of the shift);
* event agreement: output spikes present in both / present in either (silent entries excluded);
* prediction agreement: % of samples whose fixed prediction equals the float one.

Importing ``train_digits`` needs torch (for its training code); the quantize pass does not.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

from neurosim.targets.neuromorphic.model.reference import run
from neurosim.ir import CubaLIF, LIF, load
from neurosim.passes import quantize

MODELS = Path(__file__).resolve().parent
KINDS = ("mlp", "conv", "mlp_nm24")


def _train_module():
    spec = importlib.util.spec_from_file_location("train_digits", MODELS / "train_digits.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_set(kind: str):
    """The full encoded test set in ``kind``'s layout ``[T, 540, ...]`` and its labels."""
    td = _train_module()
    _, x_test, _, y_test = td.load_split()
    return td.layout(kind, td.encode(x_test, T=16, seed=1234)), y_test


def predictions(spikes: np.ndarray) -> np.ndarray:
    """argmax of the spike counts summed over time (numpy's argmax: ties -> lowest index)."""
    return spikes.sum(0).argmax(-1)


def with_decays(graph, decays: dict[str, float]):
    nodes = dict(graph.nodes)
    for name, d in decays.items():
        nodes[name] = dataclasses.replace(nodes[name], decay=d)
    return graph.replace(nodes=nodes)


def measure(kind: str, bits, state_bits: int = 16, acc_bits: int = 32) -> list[dict]:
    graph = load(MODELS / f"digits_{kind}.nsim")
    x, labels = test_set(kind)
    flt = run(graph, x, batched=True).output_spikes
    float_acc = float(np.mean(predictions(flt) == labels))
    rows = []
    eff_cache: dict[tuple, tuple[float, np.ndarray]] = {}
    for b in bits:
        q = quantize(graph, weight_bits=b, state_bits=state_bits, acc_bits=acc_bits)
        fixed = run(q.graph, x, mode="fixed", batched=True).output_spikes
        codes_real = run(q.graph, x, batched=True).output_spikes
        decays = {r.name: r.effective_decay for r in q.layers if isinstance(graph.nodes[r.name], (LIF, CubaLIF))}
        key = tuple(sorted(decays.items()))
        if key not in eff_cache:
            eff = run(with_decays(graph, decays), x, batched=True).output_spikes
            eff_cache[key] = (float(np.mean(predictions(eff) == labels)), eff)
        eff_spikes = eff_cache[key][1]
        both = np.count_nonzero((fixed > 0) & (flt > 0))
        either = np.count_nonzero((fixed > 0) | (flt > 0))
        decay_text = ", ".join(sorted({f"{r.decay:g} -> {r.effective_decay:g}" for r in q.layers}))
        rows.append(dict(
            model=kind, bits=b, float_acc=float_acc, eff_decay_acc=eff_cache[key][0],
            codes_acc=float(np.mean(predictions(codes_real) == labels)),
            fixed_acc=float(np.mean(predictions(fixed) == labels)),
            spike_agreement=float(np.mean(fixed == flt)),
            eff_spike_agreement=float(np.mean(fixed == eff_spikes)),
            event_agreement=both / max(1, either),
            prediction_agreement=float(np.mean(predictions(fixed) == predictions(flt))),
            decay=decay_text, n=int(len(labels))))
    return rows


def markdown(rows: list[dict]) -> str:
    head = ("model", "weight bits", "float acc", "float acc, eff. decay", "codes, real arithmetic", "fixed acc",
            "spike agreement", "spike agr. vs eff. decay", "event agreement", "prediction agreement",
            "decay -> effective")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['bits']} | {100 * r['float_acc']:.2f} % | {100 * r['eff_decay_acc']:.2f} % | "
            f"{100 * r['codes_acc']:.2f} % | {100 * r['fixed_acc']:.2f} % | {100 * r['spike_agreement']:.2f} % | "
            f"{100 * r['eff_spike_agreement']:.2f} % | "
            f"{100 * r['event_agreement']:.2f} % | "
            f"{100 * r['prediction_agreement']:.2f} % | {r['decay']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    ap.add_argument("--bits", nargs="+", type=int, default=[4, 6, 8], help="weight widths (default 4 6 8)")
    ap.add_argument("--state-bits", type=int, default=16)
    ap.add_argument("--acc-bits", type=int, default=32)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = []
    for kind in args.kinds:
        rows += measure(kind, args.bits, args.state_bits, args.acc_bits)
    print(markdown(rows))
    print(f"\n{rows[0]['n']} test samples, T = 16, state s{args.state_bits}.0, accumulator {args.acc_bits} bits; "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
