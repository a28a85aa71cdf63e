"""Export the trained bundled models to NIR (``digits_<kind>.nir``) and native (``.nsim``) files.

    python models/export_models.py

Reads ``digits_<kind>.pt`` (written by ``train_digits.py``), lowers each model with the torch
frontend and writes both files. The NIR files carry neurosim's exact node metadata, so
``read_nir`` restores the identical IR; other NIR tools read the forward-Euler parameters
written for dt = 1 ms (see docs/frontends.md for what NIR cannot express: the subtractive reset).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import train_digits  # noqa: E402

from neurosim.frontends.nir import write_nir  # noqa: E402
from neurosim.frontends.torch import from_torch  # noqa: E402
from neurosim.ir import save  # noqa: E402

EXPORT_DT_S = 1e-3


def export(kind: str, models_dir: Path = HERE) -> list[str]:
    model = train_digits.load_trained(kind, models_dir)
    graph = from_torch(model, train_digits.input_shape(kind))
    save(graph, models_dir / f"digits_{kind}.nsim")
    return write_nir(graph, models_dir / f"digits_{kind}.nir", dt_s=EXPORT_DT_S)


def main() -> int:
    for kind in train_digits.KINDS:
        lost = export(kind)
        print(f"digits_{kind}: wrote .nsim and .nir; NIR cannot express: {len(lost)} item(s)")
        for line in lost:
            print(f"  - {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
