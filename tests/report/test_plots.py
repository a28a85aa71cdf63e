"""A reader's check of every plot kind, on bundled models, read back from the drawn Figure.

Estimate plots (neurosim.targets.neuromorphic.plots) on models/digits_mlp.nir and
models/digits_conv.nir, SAT plots (neurosim.targets.sat.plots) on the bundled resnet18 table:
units scaled to the data (no offset), headroom above the tallest bar, layers named from the model,
legends off the data, the colour bar clear of the title, one mesh cell per core, titles that match
what is drawn, and a hatched "unknown" marker where a value is unknown.
"""

from pathlib import Path

import numpy as np
import pytest

from neurosim.frontends import load_model
from neurosim.report.plots import UNKNOWN_HATCH, pyplot
from neurosim.targets.neuromorphic import plots
from neurosim.targets.neuromorphic.config import load_preset
from neurosim.targets.neuromorphic.estimate import estimate

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="module")
def mlp_loihi():
    return estimate(load_model(MODELS / "digits_mlp.nir"), "loihi", timesteps=8, rate=0.2, seed=1)


@pytest.fixture(scope="module")
def conv_core():
    return estimate(load_model(MODELS / "digits_conv.nir"), "neurosim-core", timesteps=6, rate=0.3, seed=2)


@pytest.fixture(autouse=True)
def _close():
    yield
    pyplot().close("all")


def _drawn(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _bars(ax):
    """(filled bar rectangles, hatched unknown markers) of a bar chart."""
    from matplotlib.patches import Rectangle

    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    return [p for p in rects if not p.get_hatch()], [p for p in rects if p.get_hatch() == UNKNOWN_HATCH]


def _outside(fig, legend, ax) -> bool:
    r = _drawn(fig)
    return legend.get_window_extent(r).x0 >= ax.get_window_extent(r).x1 - 1


def test_energy_by_layer_units_headroom_names_and_unknown_marker(mlp_loihi):
    est = mlp_loihi
    fig = plots.energy_by_layer(est)
    ax = fig.axes[0]
    _drawn(fig)
    # the unit follows the data: the largest layer energy (pJ) read from the estimate, by hand
    biggest = max(est.energy_by_layer_pj.values())
    assert 1e3 <= biggest < 1e6  # so the axis must be in nJ
    assert ax.get_ylabel() == "energy per inference (nJ)"
    assert ax.yaxis.get_offset_text().get_text() == ""
    filled, unknown = _bars(ax)
    stack_top = max(p.get_y() + p.get_height() for p in filled + unknown)
    assert ax.get_ylim()[1] >= 1.1 * stack_top  # headroom above the tallest bar
    # filled bars add up to each layer's priced energy, in nJ
    for i, layer in enumerate(est.counts_by_layer):
        in_layer = [p for p in filled if abs(p.get_x() + p.get_width() / 2 - i) < 1e-9]
        assert sum(p.get_height() for p in in_layer) == pytest.approx(est.energy_by_layer_pj[layer] / 1e3, rel=1e-9)
    # NIR numeric ids are labelled with the population's type and size
    assert [t.get_text() for t in ax.get_xticklabels()] == ["layer 1 (LIF 128)", "layer 3 (LIF 10)"]
    # loihi publishes no spike_out/packet_out/packet_in energy: one hatched "unknown" marker per layer that has them
    chip = load_preset("loihi")
    unpriced = sorted(e for e, n in est.counts_total.items() if n and chip.energy_pj[e].value is None
                      and not chip.energy_pj[e].not_applicable)
    assert unpriced == ["packet_in", "packet_out", "spike_out"]
    assert len(unknown) == 2
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("unknown (no published constant") and "packet_in, packet_out, spike_out" in t for t in texts)
    assert "lower bound" in ax.get_title()
    assert _outside(fig, ax.get_legend(), ax)


def test_energy_by_layer_uses_the_model_names():
    from neurosim.ir import LIF, Dense, Graph, Input, Output

    rng = np.random.default_rng(0)
    nodes = {"input": Input(shape=(16,)), "fc1": Dense(weight=rng.normal(0, 0.6, (32, 16))),
             "fc1.lif": LIF(shape=(32,), decay=0.875), "fc2": Dense(weight=rng.normal(0, 0.6, (4, 32))),
             "fc2.lif": LIF(shape=(4,), decay=0.875), "output": Output(shape=(4,))}
    g = Graph(nodes, (("input", "fc1"), ("fc1", "fc1.lif"), ("fc1.lif", "fc2"), ("fc2", "fc2.lif"),
                      ("fc2.lif", "output")))
    fig = plots.energy_by_layer(estimate(g, "neurosim-core", timesteps=4, rate=0.5))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["fc1.lif", "fc2.lif"]


def test_energy_by_layer_synops_method(mlp_loihi):
    import dataclasses

    est = dataclasses.replace(mlp_loihi, method="synops")
    fig = plots.energy_by_layer(est)
    ax = fig.axes[0]
    assert "op-count method (synops)" in ax.get_title() and "lower bound" not in ax.get_title()
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["first-layer MACs x E_MAC", "synaptic ops x E_AC"]
    filled, unknown = _bars(ax)
    assert not unknown
    total_nj = sum(p.get_height() for p in filled)
    s = est.synops  # the op-count formula by hand
    assert total_nj == pytest.approx((s["first_layer_macs"] * s["e_mac_pj"] + s["synaptic_ops"] * s["e_ac_pj"]) / 1e3)


def _cells(ax):
    img = ax.images[0].get_array()
    return np.asarray(img.filled(np.nan) if hasattr(img, "filled") else img, dtype=float)


def test_mesh_one_cell_per_core_and_colorbar_clear_of_title(mlp_loihi, conv_core):
    for est in (mlp_loihi, conv_core):
        fig = plots.mesh_utilisation(est)
        ax, cax = fig.axes[0], fig.axes[1]
        cells = _cells(ax)
        m = est.result.mapping
        per_tile = est.chip.cores_per_tile
        gx, gy = m.grid
        assert cells.size == gx * gy * per_tile  # a cell for every core slot of every router
        assert np.count_nonzero(~np.isnan(cells)) == m.n_cores  # one cell per mapped core
        # the critical core is 1 and no core is above it
        assert np.nanmax(cells) == pytest.approx(1.0)
        r = _drawn(fig)
        title = ax.title.get_window_extent(r)
        bar = cax.get_window_extent(r)
        assert not title.overlaps(bar)
        for label in (ax.xaxis.label, ax.yaxis.label):
            assert not label.get_window_extent(r).overlaps(bar)
        assert ax.get_xlabel() == "router x" and "one cell per core" in ax.get_title()
    # loihi: 4 cores share a router; the MLP's two cores sit on one router in two different cells
    assert mlp_loihi.chip.cores_per_tile == 4
    assert len({tuple(xy) for xy in mlp_loihi.result.mapping.core_xy}) == 1


def test_spike_raster_legend_off_the_data(conv_core):
    fig = plots.spike_raster(conv_core)
    ax = fig.axes[0]
    leg = ax.get_legend()
    assert _outside(fig, leg, ax)
    res = conv_core.result
    expected = [f"layer {p} ({type(conv_core.graph.nodes[p]).__name__} {conv_core.graph.nodes[p].size}): "
                f"{int(res.spikes[p].sum()):,} spikes" for p in res.spikes]
    assert [t.get_text() for t in leg.get_texts()] == expected


def test_latency_units_and_lower_bound(mlp_loihi, conv_core):
    fig = plots.latency_per_timestep(mlp_loihi)
    ax = fig.axes[0]
    top_s = float(np.nanmax(mlp_loihi.step_s))
    assert 1e-6 <= top_s < 1e-3 and ax.get_ylabel() == "latency (us)"
    assert "lower bound: no published latency for" in ax.get_title()
    (line,) = ax.get_lines()
    assert np.allclose(line.get_ydata(), mlp_loihi.step_s * 1e6)
    fig = plots.latency_per_timestep(conv_core)
    assert "lower bound" not in fig.axes[0].get_title()


def test_write_plots_files(tmp_path, conv_core):
    names = plots.write_plots(conv_core, tmp_path)
    assert names == [f"{p}.png" for p in plots.PLOTS]
    for n in names:
        assert (tmp_path / n).stat().st_size > 1000


# -- SAT --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sat_doc():
    from neurosim.targets.sat.config import load_config
    from neurosim.targets.sat.model.workload import load_workload
    from neurosim.targets.sat.report import to_dict
    from neurosim.targets.sat.study import study

    return to_dict(study(load_workload("resnet18"), load_config("sat-vcu1525"), (2, 8), 32))


def test_sat_layer_speedup_colours_match_title_and_legend(sat_doc):
    from matplotlib.colors import to_rgba

    from neurosim.targets.sat import plots as sat_plots

    fig = sat_plots.layer_speedup(sat_doc)
    ax = fig.axes[0]
    gemm = [r for r in sat_doc["layers"] if "gemm" in r]
    filled, _ = _bars(ax)
    assert len(filled) == len(gemm)
    # the first and the last weighted layer are kept dense by default (neurosim.targets.sat.model.step)
    weighted = [r["name"] for r in gemm if r["gemm"]["weighted"]]
    kept = {weighted[0], weighted[-1]}
    for bar, row in zip(filled, gemm):
        want = "tab:orange" if row["name"] in kept else ("tab:blue" if row["gemm"]["weighted"] else "tab:gray")
        assert bar.get_facecolor() == pytest.approx(to_rgba(want))
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[:2] == [f"sparse ({len(gemm) - len(kept)})", f"kept dense ({len(kept)})"]
    assert "gray" not in ax.get_title()
    assert _outside(fig, ax.get_legend(), ax)
    assert ax.get_ylim()[1] >= 1.1 * max(b.get_height() for b in filled)


def test_sat_other_plots_legends_outside(sat_doc):
    from neurosim.targets.sat import plots as sat_plots

    figs = sat_plots.figures(sat_doc)
    assert set(figs) == {"layer_speedup", "phases", "ablation", "patterns"}
    for name in ("phases", "ablation", "patterns"):
        ax = figs[name].axes[0]
        assert _outside(figs[name], ax.get_legend(), ax), name
    assert [t.get_text() for t in figs["phases"].axes[0].get_legend().get_texts()] == [
        "forward", "backward-data", "weight-gradient"]
    assert figs["patterns"].axes[0].get_xlabel() == "N:M pattern"
