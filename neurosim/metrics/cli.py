"""``neurosim metrics MODEL``: NeuroBench metrics and estimate levels (a) and (b), side by side.

The command record :data:`COMMAND` is registered by :mod:`neurosim.cli`. The activity comes from
one reference run on ``--input`` (``[T, *input_shape]`` or ``[T, B, *input_shape]``) or on seeded
Poisson spikes at ``--rate`` for ``--timesteps`` steps and ``--batch`` samples.
"""

from __future__ import annotations

import argparse
import json

from neurosim.commands import (
    Command,
    add_model_options,
    console,
    load_array,
    load_model_of,
    positive_int,
    rate_arg,
    seed_arg,
)


def configure(p: argparse.ArgumentParser) -> None:
    add_model_options(p)
    p.add_argument("--input", default=None,
                   help="input .npy [T, *input_shape] or [T, B, *input_shape] (default: Poisson spikes at --rate)")
    p.add_argument("--rate", type=rate_arg, default=0.1, help="Poisson input spike probability per step (default 0.1)")
    p.add_argument("--timesteps", type=positive_int, default=16, help="timesteps of the Poisson input (default 16)")
    p.add_argument("--batch", type=positive_int, default=1, help="samples of the Poisson input (default 1)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the Poisson input (default 0)")
    p.add_argument("--memory", default=None, metavar="TOML",
                   help="memory hierarchy of level (b) (default: the bundled Horowitz 45 nm levels)")
    p.add_argument("--rates", default=None, metavar="TOML",
                   help="per-layer firing rates instead of a run (for trained models: `[rates]` layer = spikes per "
                        "neuron and step, optional `default = R` for unlisted layers and `input_rate = R`; "
                        "--timesteps gives the steps); --save-rates writes this file from a run")
    p.add_argument("--save-rates", default=None, metavar="TOML",
                   help="write the per-layer firing rates measured in this run as a --rates file")
    p.add_argument("--chip", default=None, metavar="NAME_OR_TOML",
                   help="also level (c): the cycle-level engine on this chip preset (or why the model does not map)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the report as JSON to FILE")


def _input(args, graph):
    import numpy as np

    from neurosim.targets.neuromorphic.estimate import poisson_input

    shape = graph.nodes[graph.inputs[0]].shape
    if args.input is None:
        from neurosim import limits

        limits.check("timesteps", args.timesteps, "--timesteps")
        limits.check("batch", args.batch, "--batch")
        limits.check("elements", args.timesteps * args.batch * int(np.prod(shape)), "the Poisson input")
        return poisson_input((args.batch, *shape), args.timesteps, args.rate, args.seed)
    x = load_array(args.input)
    if x.ndim == 1 + len(shape):
        x = x[:, None]
    return x


def load_rates(path: str, graph) -> tuple[dict[str, float], float | None]:
    """A ``--rates`` file: ``[rates]`` layer -> rate (``default`` fills unlisted spiking layers) and an optional
    top-level ``input_rate`` (spikes per input element and step; absent: the input is real-valued)."""
    import tomllib

    from neurosim.errors import FormatError
    from neurosim.ir.nodes import SpikingPopulation

    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FormatError(f"--rates {path!r}: cannot read it as TOML ({exc}); write `[rates]` with one "
                          f"`layer = rate` line per spiking layer") from None
    unknown = sorted(set(doc) - {"rates", "input_rate"})
    if unknown or not isinstance(doc.get("rates"), dict):
        raise FormatError(f"--rates {path!r}: expected a [rates] table and optionally input_rate, found keys "
                          f"{sorted(doc)!r}")
    rates = dict(doc["rates"])
    default = rates.pop("default", None)
    if default is not None:
        for name in graph.order:
            if isinstance(graph.nodes[name], SpikingPopulation):
                rates.setdefault(name, default)
    input_rate = doc.get("input_rate")
    if input_rate is not None and not (isinstance(input_rate, (int, float)) and not isinstance(input_rate, bool)
                                       and 0 <= input_rate):
        raise FormatError(f"--rates {path!r}: input_rate must be a number >= 0, found {input_rate!r}")
    return rates, input_rate


def measured_rates(graph, activity) -> dict[str, float]:
    """Spikes per neuron and step of every spiking layer in a recorded run (what --save-rates writes)."""
    from neurosim.ir.nodes import SpikingPopulation

    return {n: float(activity.outputs[n].mean()) for n in graph.order
            if isinstance(graph.nodes[n], SpikingPopulation)}


def run(args) -> int:
    from neurosim.fileio import check_output_file, write_text_atomic
    from neurosim.metrics.memory import load_memory
    from neurosim.errors import SimulationError
    from neurosim.metrics.report import counts_of, engine_level, metrics_report, print_metrics

    if args.json is not None:
        check_output_file("--json", args.json, suffix=".json")
    memory = load_memory(args.memory)
    graph = load_model_of(args)
    if args.save_rates is not None:
        check_output_file("--save-rates", args.save_rates, suffix=".toml")
    if args.rates is not None:
        if args.input is not None or args.save_rates is not None or args.chip is not None:
            raise SimulationError("--rates replaces the run: leave out --input, --save-rates and --chip")
        rates, input_rate = load_rates(args.rates, graph)
        x, counts = None, counts_of(graph, rates=rates, steps=args.timesteps, input_rate=input_rate)
    else:
        from neurosim.metrics.activity import record
        from neurosim.metrics.counts import from_activity

        x = _input(args, graph)
        activity = record(graph, x)
        counts = from_activity(graph, activity)
        if args.save_rates is not None:
            import numpy as np

            lines = [f"# firing rates (spikes per neuron and step) measured by neurosim metrics on {args.model}"]
            if np.isin(x, (0, 1)).all():  # a spike input: its rate too (else the input counts as real-valued)
                lines.append(f"input_rate = {float(np.mean(x))!r}")
            lines += ["[rates]"] + [f"{json.dumps(n)} = {r!r}" for n, r in measured_rates(graph, activity).items()]
            write_text_atomic(args.save_rates, "\n".join(lines) + "\n")
    doc = metrics_report(graph, counts, memory=memory, model=str(args.model))
    if args.chip is not None:
        doc["engine"] = engine_level(graph, x, args.chip)
        if doc["engine"]["maps"]:
            doc["totals"]["energy_c_pj"] = doc["engine"]["energy_pj"]
    print_metrics(doc, console())
    if args.json is not None:
        write_text_atomic(args.json, json.dumps(doc, indent=2, sort_keys=False) + "\n")
    return 0


COMMAND = Command(help="NeuroBench metrics and energy estimates (papers' method, memory-aware) of a model",
                  configure=configure, run=run)
