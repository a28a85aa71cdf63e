"""neurosim's exception hierarchy.

Every error neurosim raises on bad input derives from :class:`NeurosimError`. Messages are one
sentence that names the node, field or path, shows the bad value with ``!r``, says what was
expected, and says how to fix it.
"""

from __future__ import annotations


class NeurosimError(Exception):
    """Base class of every error neurosim raises on bad input or an impossible request."""


class IRError(NeurosimError):
    """An IR node, graph or fixed-point format is invalid (bad field value, type or shape)."""


class ShapeError(IRError):
    """Shapes do not agree along an edge or inside a node."""


class GraphError(IRError):
    """The graph structure is invalid (unknown node, dangling edge, missing input/output)."""


class NMError(IRError):
    """Weights declared N:M-sparse violate the pattern, or N and M are inconsistent."""


class FixedPointError(IRError):
    """A value does not fit its fixed-point format, or the format itself is invalid."""


class FormatError(NeurosimError):
    """A file (native model, NIR, torch state dict, input array) is malformed or truncated."""


class UnsupportedError(NeurosimError):
    """A layer, primitive or option exists but neurosim does not support it (yet)."""


class FrontendError(NeurosimError):
    """Importing or exporting a model through a frontend failed for a reason other than format."""


class SimulationError(NeurosimError):
    """The simulator was given inputs that do not match the graph (shape, dtype, length)."""


class CapacityError(NeurosimError):
    """A model does not fit the target chip or board (names the limit and by how much)."""


class SATConfigError(NeurosimError):
    """An accelerator configuration, N:M pattern or GEMM/tile shape the SAT model cannot take."""


# -- hardware: chips, accelerators, RTL generation, verification, synthesis --------------------


class HDLError(IRError):
    """A core configuration the generator cannot build (names the parameter and the bad value)."""


class SynthError(NeurosimError):
    """The FPGA flow could not run or the design does not fit the device."""


class VerificationError(NeurosimError):
    """The testbench could not run (missing simulator or testbench), not a mismatch."""


class ChipError(NeurosimError):
    """A chip preset is invalid (bad value, unit, missing source, unknown event) or does not exist."""


class EnergyError(NeurosimError):
    """Event counts or a run time given to the energy model are invalid (unknown event, negative count)."""


class OutputPathError(NeurosimError):
    """An output path (``--out``, ``--json``, ``--work``) cannot be written: empty, too long, a file where a
    folder is expected or the reverse, under a file, or in a folder the user cannot write into."""


class LimitError(NeurosimError):
    """A size (neurons, elements, timesteps, batch, file bytes) exceeds a resource limit of :mod:`neurosim.limits`."""


class SweepError(NeurosimError):
    """A sweep spec is invalid (unknown axis, bad or empty values, sampling) or a sweep cannot run or resume."""
