"""The neuromorphic target's cycle model: the reference simulator (the spec), the compiled engine and
its latency model.

The node families outside the core set register their reference kernels in
:data:`.reference.KERNELS` from their own modules (``ref_<family>``); importing any module of this
package imports them first, so every user of the reference sees every kernel.
"""

from neurosim.targets.neuromorphic.model import ref_attention, ref_recurrent, ref_sparse  # noqa: F401
