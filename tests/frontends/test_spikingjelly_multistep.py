"""A generic SpikingJelly multi-step model (SeqToANNContainer, LIFNode step_mode='m', layer.*) lowered by
from_torch equals SpikingJelly's own forward (float64), and its unsupported forms fail with one message."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("spikingjelly")

from spikingjelly.activation_based import functional, layer, neuron  # noqa: E402
from torch import nn  # noqa: E402

from neurosim.errors import UnsupportedError  # noqa: E402
from neurosim.frontends.torch import from_torch  # noqa: E402
from neurosim.frontends.torch.spikingjelly import is_multistep  # noqa: E402
from neurosim.targets.neuromorphic.model import reference  # noqa: E402


def _lif(**kw):
    return neuron.LIFNode(tau=2.0, step_mode="m", **kw)


def _model():
    torch.manual_seed(0)
    net = nn.Sequential(
        layer.SeqToANNContainer(nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)),
        _lif(),
        layer.SeqToANNContainer(nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 5), nn.BatchNorm1d(5)),
        _lif(v_reset=None),
        layer.SeqToANNContainer(nn.Linear(5, 3)),
    )
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.uniform_(0.0, 1.0, generator=g)
    return net.double().eval()


def test_sequential_multistep_model_equals_spikingjelly():
    net = _model()
    assert is_multistep(net)
    x = torch.rand(6, 1, 2, 8, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 4  # [T, B, ...]
    functional.reset_net(net)
    with torch.no_grad():
        expected = net(x).numpy()[:, 0]
    graph = from_torch(net, (2, 8, 8))
    got = reference.run(graph, x.numpy()[:, 0]).output_spikes
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert np.abs(expected).max() > 0 and graph.semantics.profile == "spikingjelly"
    kinds = [type(n).__name__ for n in graph.nodes.values()]
    assert "BatchNorm" not in kinds and kinds.count("LIF") == 2


def test_single_step_neuron_inside_a_multistep_model_is_refused():
    net = nn.Sequential(layer.SeqToANNContainer(nn.Conv2d(1, 2, 1)), _lif(),
                        layer.SeqToANNContainer(nn.Conv2d(2, 2, 1)), neuron.LIFNode(tau=2.0)).eval()
    with pytest.raises(UnsupportedError, match=r"^layer '3' \(spikingjelly\.activation_based\.neuron\.LIFNode\) has "
                                               r"step_mode='s' inside a multi-step model; set step_mode='m' on every "
                                               r"neuron \(functional\.set_step_mode\(model, 'm'\)\)$"):
        from_torch(net, (1, 4, 4))


def test_batchnorm_after_a_neuron_is_refused():
    net = nn.Sequential(_lif(), layer.SeqToANNContainer(nn.BatchNorm2d(2))).eval()
    with pytest.raises(UnsupportedError, match=r"^layer '1\.0' \(BatchNorm2d\) does not follow a convolution or "
                                               r"linear layer; neurosim folds BatchNorm into the layer before it"):
        from_torch(net, (2, 4, 4))


def test_unsupported_module_in_a_multistep_model_is_named():
    net = nn.Sequential(_lif(), nn.ReLU()).eval()
    with pytest.raises(UnsupportedError, match=r"^layer '1' is a torch\.nn\.modules\.activation\.ReLU in a "
                                               r"SpikingJelly multi-step model, which neurosim cannot lower; supported: "):
        from_torch(net, (2, 4, 4))
