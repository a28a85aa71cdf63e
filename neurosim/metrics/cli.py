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


def run(args) -> int:
    from neurosim.fileio import check_output_file, write_text_atomic
    from neurosim.metrics.memory import load_memory
    from neurosim.metrics.report import counts_of, engine_level, metrics_report, print_metrics

    if args.json is not None:
        check_output_file("--json", args.json, suffix=".json")
    memory = load_memory(args.memory)
    graph = load_model_of(args)
    x = _input(args, graph)
    counts = counts_of(graph, x)
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
