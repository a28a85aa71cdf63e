"""neurosim: lower spiking and sparse models to an event-driven IR, estimate their cost in
silicon, generate RTL and verify it against the simulator."""

__version__ = "0.1.0"

from neurosim.errors import NeurosimError  # noqa: E402

__all__ = ["NeurosimError", "__version__"]
