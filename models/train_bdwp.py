"""Train a small DNN on scikit-learn's 8x8 digits dense and with BDWP N:M sparsity; compare accuracy.

    python models/train_bdwp.py [--patterns dense 2:4 2:8 1:8] [--epochs E] [--out models/bdwp_results.json]

The network is an MLP 64-256-256-10 with ReLU (non-spiking: the workload SAT trains). With BDWP
every Linear except the classifier (10 outputs are not a multiple of M) runs its forward GEMM with
the weight pruned N:M along the inputs and its backward-data GEMM with the weight pruned N:M along
the outputs; the weight gradient is dense (:class:`neurosim.torch.BDWP`). Same seed, data split
and schedule for every pattern; deterministic. Importable: :func:`train`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_digits import load_split, setup_determinism

from neurosim.fileio import write_text_atomic
from neurosim.passes.bdwp import check_nm_along
from neurosim.torch import BDWP, apply_bdwp_

SEED = 0
EPOCHS = 40
HIDDEN = 256


def build() -> nn.Sequential:
    return nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))


def _pattern(text: str) -> tuple[int, int] | None:
    if text == "dense":
        return None
    n, m = (int(v) for v in text.split(":"))
    return n, m


def train(pattern: str = "dense", epochs: int = EPOCHS, seed: int = SEED) -> dict:
    """Train one model; returns ``{"pattern", "test_accuracy", "epochs", "seconds", "model"}``."""
    setup_determinism(seed)
    x_train, x_test, y_train, y_test = load_split()
    xt = torch.tensor(x_train.reshape(len(x_train), -1) / 16.0, dtype=torch.float32)
    yt = torch.tensor(y_train)
    xe = torch.tensor(x_test.reshape(len(x_test), -1) / 16.0, dtype=torch.float32)
    model = build()
    nm = _pattern(pattern)
    if nm is not None:
        apply_bdwp_(model, *nm, skip=["4"], srste_lambda=2e-4)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        acc = float((model(xe).argmax(1).numpy() == y_test).mean())
    if nm is not None:  # the trained sparse weights really are N:M in both directions
        for mod in model.modules():
            if isinstance(mod, BDWP):
                check_nm_along(mod.sparse_weight("in").numpy(), *nm, axis="in")
                check_nm_along(mod.sparse_weight("out").numpy(), *nm, axis="out")
    return {"pattern": pattern, "test_accuracy": acc, "epochs": epochs, "seconds": round(seconds, 2),
            "model": model}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--patterns", nargs="+", default=["dense", "2:4", "2:8", "1:8"])
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--out", default=str(Path(__file__).with_name("bdwp_results.json")))
    args = p.parse_args(argv)
    rows = []
    for pat in args.patterns:
        r = train(pat, args.epochs)
        r.pop("model")
        rows.append(r)
        print(f"{pat:>6}: test accuracy {r['test_accuracy'] * 100:.2f} %  ({r['seconds']} s)")
    dense = next((r["test_accuracy"] for r in rows if r["pattern"] == "dense"), None)
    for r in rows:
        r["drop_vs_dense_pct"] = None if dense is None else round((dense - r["test_accuracy"]) * 100, 2)
    result = {"network": "MLP 64-256-256-10 (ReLU), digits 8x8", "seed": SEED, "test_samples": 540,
              "torch": torch.__version__, "numpy": np.__version__, "results": rows,
              "command": "python models/train_bdwp.py"}
    write_text_atomic(args.out, json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
