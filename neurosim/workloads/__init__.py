"""Real-size workloads of the SNN literature as IR graphs (random weights calibrated to a firing rate).

* :func:`vgg11` -- spiking VGG-11 on CIFAR-10 (3 x 32 x 32; 64/128 px for the scaling curve);
* :func:`dvs_gesture_cnn` -- the 5-block PLIF network of Fang et al., ICCV 2021, on DVS128 Gesture;
* :func:`sew_resnet18` -- SEW-ResNet-18 (ADD) of Fang et al., NeurIPS 2021, on 3 x 224 x 224;
* :func:`random_input` -- Bernoulli (discrete Poisson) input spikes for any of them.

Pure functions of their arguments and seed; no target is imported. How the weights are drawn and
calibrated: :mod:`neurosim.workloads._build`. Used by ``neurosim bench engine --models``.
"""

from neurosim.workloads._build import random_input, size_of
from neurosim.workloads.dvs_gesture import dvs_gesture_cnn
from neurosim.workloads.sew_resnet import sew_resnet18
from neurosim.workloads.vgg import vgg11

__all__ = ["dvs_gesture_cnn", "random_input", "sew_resnet18", "size_of", "vgg11"]
