"""Train the bundled spiking models on scikit-learn's 8x8 digits (no download), deterministically.

    python models/train_digits.py [--kind mlp|conv|mlp_nm24|all] [--epochs E] [--out models/]

Writes ``digits_<kind>.pt`` (state dict: float32 weights, float64 LIF ``decay``/``threshold``
buffers), updates ``training_results.json``, and writes ``digits_test_inputs.npz`` (the first 32
encoded test samples in both input layouts, plus labels) and ``digits_sample.npy`` (one sample,
``[T, 64]``). Importable: ``build_model``, ``load_split``, ``encode``, ``load_trained``,
``evaluate``, ``train``.

Encoding: rate coding, ``pixel / 16`` (pixels are 0..16) is the per-step Bernoulli spike
probability, ``T = 16`` steps, drawn with ``numpy.random.default_rng(seed)``. The conv layout
``[T, N, 1, 8, 8]`` holds the same spikes as the MLP layout ``[T, N, 64]`` for the same seed.
Loss: cross-entropy on ``LOGIT_SCALE *`` the output spike counts (summed over T). Adam.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from neurosim.torch import LIF, apply_nm_, finalize_nm_, nm_modules, nm_step_, run

KINDS = ("mlp", "conv", "mlp_nm24")
MODELS_DIR = Path(__file__).resolve().parent

T = 16
SEED = 0  # torch init, shuffling and training-spike draws
SPLIT_SEED = 0  # train_test_split random_state
TEST_ENCODE_SEED = 1234  # the spikes of the test set
TEST_SIZE = 0.3
N_EXPORT = 32  # samples in digits_test_inputs.npz

BATCH_SIZE = 32
LR = 2e-3
LOGIT_SCALE = 0.5
NM = {"mlp_nm24": (2, 4)}
NM_UPDATE_EVERY = 16  # optimizer steps between N:M mask recomputations
NM_SRSTE_LAMBDA = 2e-4
DEFAULT_EPOCHS = {"mlp": 30, "conv": 30, "mlp_nm24": 40}


def input_shape(kind: str) -> tuple[int, ...]:
    """Unbatched input shape of ``kind``: (64,) for the MLPs, (1, 8, 8) for conv."""
    _check_kind(kind)
    return (1, 8, 8) if kind == "conv" else (64,)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS!r}, found {kind!r}")


def build_model(kind: str) -> nn.Sequential:
    """The untrained float32 model of ``kind`` (``mlp_nm24`` is the plain ``mlp`` architecture)."""
    _check_kind(kind)
    if kind == "conv":
        return nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            LIF((8, 8, 8), decay=0.9, threshold=1.0),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(128, 10),
            LIF(10, decay=0.9, threshold=1.0),
        )
    return nn.Sequential(
        nn.Linear(64, 128),
        LIF(128, decay=0.9, threshold=1.0),
        nn.Linear(128, 10),
        LIF(10, decay=0.9, threshold=1.0),
    )


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, x_test, y_train, y_test)``: images ``[N, 8, 8]`` float64 pixels 0..16, labels
    int64; 70/30 stratified split with ``random_state=SPLIT_SEED`` (1257 / 540 samples)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = d.images.astype(np.float64)
    y = d.target.astype(np.int64)
    return tuple(train_test_split(x, y, test_size=TEST_SIZE, stratify=y, random_state=SPLIT_SEED))


def encode(images: np.ndarray, T: int = T, seed: int = TEST_ENCODE_SEED) -> np.ndarray:
    """Rate-code ``images [N, *shape]`` (pixels 0..16) into float32 0/1 spikes ``[T, N, *shape]``.

    ``spike[t, i] = u[t, i] < pixel[i] / 16`` with ``u`` uniform from
    ``numpy.random.default_rng(seed)``; reshaping ``images`` does not change the spikes.
    """
    p = np.clip(np.asarray(images, dtype=np.float64) / 16.0, 0.0, 1.0)
    u = np.random.default_rng(seed).random((int(T),) + p.shape)
    return (u < p).astype(np.float32)


def layout(kind: str, spikes: np.ndarray) -> np.ndarray:
    """Reshape spikes ``[T, N, ...]`` to the input layout of ``kind``."""
    return spikes.reshape(spikes.shape[:2] + input_shape(kind))


def test_inputs(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """The whole encoded test set in ``kind``'s layout, and its labels."""
    _, x_test, _, y_test = load_split()
    return layout(kind, encode(x_test, T, TEST_ENCODE_SEED)), y_test


def setup_determinism(seed: int = SEED) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)


@torch.no_grad()
def predict(model: nn.Module, spikes, batch_size: int = 256) -> np.ndarray:
    """Output spike counts ``[N, 10]`` of ``model`` for ``spikes [T, N, *in]``."""
    model.eval()
    x = torch.as_tensor(spikes)
    counts = [run(model, x[:, i:i + batch_size]).sum(0) for i in range(0, x.shape[1], batch_size)]
    return torch.cat(counts).numpy()


def evaluate(model: nn.Module, spikes, labels) -> float:
    """Accuracy of ``argmax`` of the output spike counts (ties: lowest class)."""
    return float(np.mean(predict(model, spikes).argmax(1) == np.asarray(labels)))


def train(kind: str, epochs: int | None = None, seed: int = SEED, log=print) -> tuple[nn.Module, dict]:
    """Train ``kind`` from scratch; returns ``(model in eval mode, results dict)``."""
    _check_kind(kind)
    epochs = DEFAULT_EPOCHS[kind] if epochs is None else int(epochs)
    setup_determinism(seed)
    x_train, x_test, y_train, y_test = load_split()
    x_train = x_train.reshape((len(x_train),) + input_shape(kind))
    x_te = layout(kind, encode(x_test, T, TEST_ENCODE_SEED))
    model = build_model(kind)
    nm = NM.get(kind)
    if nm:
        for mod in model:
            if isinstance(mod, (nn.Linear, nn.Conv2d)):
                apply_nm_(mod, *nm, update_every=NM_UPDATE_EVERY, srste_lambda=NM_SRSTE_LAMBDA)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    yt = torch.as_tensor(y_train)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        xs = torch.as_tensor(encode(x_train, T, seed=int(rng.integers(2**31))))  # fresh spikes per epoch
        perm = torch.as_tensor(rng.permutation(len(y_train)))
        total = 0.0
        for i in range(0, len(perm), BATCH_SIZE):
            idx = perm[i:i + BATCH_SIZE]
            counts = run(model, xs[:, idx]).sum(0)
            loss = loss_fn(LOGIT_SCALE * counts, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            nm_step_(model)
            total += loss.item() * len(idx)
        if log and (epoch % 5 == 4 or epoch == epochs - 1):
            log(f"[{kind}] epoch {epoch + 1}/{epochs} loss {total / len(perm):.4f} "
                f"test acc {evaluate(model, x_te, y_test):.4f}")
    pattern = None
    if nm:
        pre = evaluate(model, x_te, y_test)
        finalize_nm_(model)
        pattern = f"{nm[0]}:{nm[1]}"
        assert not list(nm_modules(model))
    train_seconds = time.perf_counter() - t0
    model.eval()
    acc = evaluate(model, x_te, y_test)
    info = {
        "test_accuracy": round(acc, 6),
        "n_test": int(len(y_test)),
        "train_seconds": round(train_seconds, 2),
        "epochs": epochs,
        "seed": seed,
        "split_seed": SPLIT_SEED,
        "test_encode_seed": TEST_ENCODE_SEED,
        "T": T,
        "batch_size": BATCH_SIZE,
        "lr": LR,
        "logit_scale": LOGIT_SCALE,
        "nm": pattern,
        "torch_version": torch.__version__,
    }
    if nm:
        info["test_accuracy_before_finalize"] = round(pre, 6)
        info["nm_update_every"] = NM_UPDATE_EVERY
        info["nm_srste_lambda"] = NM_SRSTE_LAMBDA
    return model, info


def model_path(kind: str, models_dir=MODELS_DIR) -> Path:
    return Path(models_dir) / f"digits_{kind}.pt"


def save(model: nn.Module, kind: str, models_dir=MODELS_DIR) -> Path:
    """Save the state dict (float32 parameters; the LIF buffers stay float64)."""
    sd = {k: (v.detach().to(torch.float32) if v.dtype in (torch.float16, torch.bfloat16) else v.detach()).clone()
          for k, v in model.state_dict().items()}
    path = model_path(kind, models_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(sd, path)
    return path


def load_trained(kind: str, models_dir=MODELS_DIR) -> nn.Sequential:
    """The trained ``kind`` model from ``models_dir/digits_<kind>.pt``, in eval mode."""
    model = build_model(kind)
    path = model_path(kind, models_dir)
    if not path.exists():
        raise FileNotFoundError(f"{str(path)!r} does not exist; train it with "
                                f"`python models/train_digits.py --kind {kind}`")
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def write_inputs(models_dir=MODELS_DIR) -> None:
    """``digits_test_inputs.npz`` (keys mlp, conv, labels, T, seed) and ``digits_sample.npy``."""
    _, x_test, _, y_test = load_split()
    spikes = encode(x_test, T, TEST_ENCODE_SEED)[:, :N_EXPORT]  # the first 32 of the evaluated test set
    d = Path(models_dir)
    d.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(d / "digits_test_inputs.npz", mlp=layout("mlp", spikes), conv=layout("conv", spikes),
             labels=y_test[:N_EXPORT].astype(np.int64), T=np.int64(T), seed=np.int64(TEST_ENCODE_SEED))
    np.save(d / "digits_sample.npy", layout("mlp", spikes)[:, 0])


def update_results(kind: str, info: dict, models_dir=MODELS_DIR) -> None:
    path = Path(models_dir) / "training_results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[kind] = info
    path.write_text(json.dumps(dict(sorted(results.items())), indent=2) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", default="all", choices=KINDS + ("all",))
    ap.add_argument("--epochs", type=int, default=None, help=f"default per kind: {DEFAULT_EPOCHS}")
    ap.add_argument("--out", default=str(MODELS_DIR), help="output folder (default: this script's folder)")
    args = ap.parse_args(argv)
    argv = sys.argv[1:] if argv is None else list(argv)
    command = "python models/train_digits.py" + "".join(" " + shlex.quote(a) for a in argv)
    write_inputs(args.out)
    for kind in KINDS if args.kind == "all" else (args.kind,):
        model, info = train(kind, args.epochs)
        info["command"] = command
        path = save(model, kind, args.out)
        update_results(kind, info, args.out)
        print(f"[{kind}] test accuracy {info['test_accuracy']:.4f} in {info['train_seconds']:.1f} s -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
