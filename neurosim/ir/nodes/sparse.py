"""IR nodes of the sparse family: what E-3DSNN (spike sparse 3D convolution) needs beyond the core node set."""

from __future__ import annotations
