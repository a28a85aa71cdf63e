"""The bundled models: files load without torch, and reproduce the trained torch models spike for spike."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from neurosim.targets.neuromorphic.model.reference import run
from neurosim.frontends.nir import read_nir
from neurosim.ir import load
from neurosim.ir.nm import check_nm

MODELS = Path(__file__).resolve().parents[1] / "models"
KINDS = ("mlp", "conv", "mlp_nm24")


def _inputs(kind):
    data = np.load(MODELS / "digits_test_inputs.npz")
    return data["conv" if kind == "conv" else "mlp"], data["labels"]


def _train_module():
    spec = importlib.util.spec_from_file_location("train_digits", MODELS / "train_digits.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("kind", KINDS)
def test_nir_and_native_files_agree(kind):
    assert read_nir(MODELS / f"digits_{kind}.nir").equals(load(MODELS / f"digits_{kind}.nsim"))


def test_nm_model_is_2_of_4():
    g = load(MODELS / "digits_mlp_nm24.nsim")
    dense = [g.nodes[n] for n in g.projections()]
    assert [d.nm for d in dense] == [(2, 4), (2, 4)]
    for d in dense:
        check_nm(d.weight, 2, 4)


@pytest.mark.parametrize("kind", KINDS)
def test_reference_matches_torch_spike_for_spike(kind):
    torch = pytest.importorskip("torch")
    td = _train_module()
    model = td.load_trained(kind).double()
    x, labels = _inputs(kind)
    graph = read_nir(MODELS / f"digits_{kind}.nir")
    ours = run(graph, x, batched=True)
    # every LIF layer of the torch model, recorded with forward hooks
    from neurosim.torch import LIF, reset_states

    recorded = {}
    for name, mod in model.named_modules():
        if isinstance(mod, LIF):
            mod.register_forward_hook(lambda m, i, o, name=name: recorded.setdefault(name, []).append(o.numpy().copy()))
    reset_states(model)
    with torch.no_grad():
        for t in range(x.shape[0]):
            model(torch.tensor(x[t], dtype=torch.float64))
    assert recorded
    for name, steps in recorded.items():
        theirs = np.stack(steps)
        assert 0 < theirs.mean() < 1
        assert np.array_equal(theirs, ours.outputs[name]), name
    # and the classification agrees with the training script's accuracy bookkeeping
    counts = ours.output_spikes.sum(axis=0)
    assert np.array_equal(counts, td.predict(model, torch.tensor(x, dtype=torch.float64)))
    pred = counts.argmax(axis=1)
    assert (pred == labels).mean() >= 0.85


@pytest.mark.parametrize("kind", KINDS)
def test_bundled_files_are_up_to_date(kind, tmp_path):
    """Regenerating the .nsim from the .pt gives the committed file's graph (drift test)."""
    pytest.importorskip("torch")
    from neurosim.frontends.torch import from_torch

    td = _train_module()
    graph = from_torch(td.load_trained(kind), td.input_shape(kind))
    assert graph.equals(load(MODELS / f"digits_{kind}.nsim"))


def test_training_results_recorded():
    results = json.loads((MODELS / "training_results.json").read_text())
    for kind in KINDS:
        assert results[kind]["test_accuracy"] >= 0.9
        assert results[kind]["train_seconds"] > 0
