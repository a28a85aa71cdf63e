"""The tables of ``docs/sat.md``, generated from the model so the document cannot drift from it.

    python -m neurosim.targets.sat.tables      # prints the markdown between the docs' markers

A test compares the document with this output.
"""

from __future__ import annotations

from neurosim.targets.sat.study import study
from neurosim.targets.sat.model.workload import load_workload
from neurosim.targets.sat.config import load_config

#: The networks compared with the paper's average (the four it is fair to call "standard").
PAPER_SET = ("resnet18", "resnet50", "vgg16", "vit_b_16")
EXTRA = ("mobilenet_v2",)
BATCH = 32
PAPER_SPEEDUP_2_8 = 1.75


def markdown_tables(batch: int = BATCH) -> str:
    cfg = load_config()
    lines = []
    studies = {name: study(load_workload(name), cfg, (2, 8), batch) for name in PAPER_SET + EXTRA}
    pats = [p.nm for p in studies[PAPER_SET[0]].patterns]

    lines.append(f"Speedup of a training step over dense, batch {batch}, `{cfg.name}`; ideal = 3/(2N/M+1):")
    lines.append("")
    lines.append("| network | GMAC/sample | " + " | ".join(f"{n}:{m}" for n, m in pats) + " |")
    lines.append("|---|---:|" + "---:|" * len(pats))
    for name, s in studies.items():
        row = {p.nm: p.speedup for p in s.patterns}
        lines.append(f"| {name} | {s.workload.macs(1) / 1e9:.2f} | " + " | ".join(f"{row[p]:.2f}" for p in pats) + " |")
    ideal = {p.nm: p.ideal for p in studies[PAPER_SET[0]].patterns}
    lines.append("| *ideal* | | " + " | ".join(f"*{ideal[p]:.2f}*" for p in pats) + " |")
    mean = sum(studies[n].speedup for n in PAPER_SET) / len(PAPER_SET)
    lines.append("")
    lines.append(f"2:8 average over {', '.join(PAPER_SET)}: **{mean:.3f}x** (paper: {PAPER_SPEEDUP_2_8}x, "
                 f"{(mean / PAPER_SPEEDUP_2_8 - 1):+.1%}); with {', '.join(EXTRA)}: "
                 f"{sum(s.speedup for s in studies.values()) / len(studies):.3f}x.")
    lines.append("")
    lines.append("Where the 2:8 step's cycles go, as shares of the dense step (dense -> 2:8):")
    lines.append("")
    lines.append("| network | MACs at peak | array fill/drain, partial tiles | DRAM stalls | N:M generation | vector unit "
                 "| speedup | compute-only bound |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, s in studies.items():
        bd, bs = s.dense.breakdown(), s.sparse.breakdown()
        cells = [f"{bd[k] / s.dense.cycles:.1%} -> {bs[k] / s.dense.cycles:.1%}" for k in bd]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {s.speedup:.2f} | {s.mac_speedup:.2f} |")
    lines.append("")
    lines.append("Dataflow optimisations, 2:8 step speedup over the fully optimised dense step:")
    lines.append("")
    labels = [a.label for a in studies[PAPER_SET[0]].ablation]
    lines.append("| network | " + " | ".join(labels) + " |")
    lines.append("|---|" + "---:|" * len(labels))
    for name, s in studies.items():
        lines.append(f"| {name} | " + " | ".join(f"{a.speedup:.2f}" for a in s.ablation) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_tables(), end="")
