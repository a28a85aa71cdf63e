"""SpikingJelly 0.0.0.0.x ``clock_driven`` names used by the vendored SpikeGPT model, on SpikingJelly 2.0.

``neuron.MultiStepLIFNode(tau, surrogate_function, backend, v_threshold, ...)`` of the old API is
``activation_based.neuron.LIFNode(..., step_mode="m")`` (same dynamics; the ``backend`` argument is
gone); ``surrogate.ATan`` and ``functional`` exist under the same names.
"""

from types import SimpleNamespace

from spikingjelly.activation_based import functional, surrogate
from spikingjelly.activation_based import neuron as _neuron
from spikingjelly.activation_based.surrogate import ATan as atan


def _multistep_lif(*args, backend=None, **kwargs):
    return _neuron.LIFNode(*args, step_mode="m", **kwargs)


neuron = SimpleNamespace(MultiStepLIFNode=_multistep_lif)

__all__ = ["atan", "functional", "neuron", "surrogate"]
