"""The state of one fx-traced import and the helpers every fx-node handler uses.

:class:`_FxImport` holds what each fx node evaluates to (:class:`_Value`: layer outputs;
:class:`_Param`: parameters and values computed from them), the call tables of the trace, and the
helpers the handlers in :mod:`.trace`, :mod:`.add`, :mod:`.attention` and :mod:`.glue` share: node
paths, error messages naming the fx node, reading a node's layer output, and running a node on
meta tensors of a batch of one. torch is imported inside methods only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neurosim.errors import UnsupportedError
from neurosim.frontends.torch.base import Layer, Lowered
from neurosim.frontends.torch.builder import _Builder
from neurosim.frontends.torch.registry import _display


@dataclass(frozen=True)
class _Value:
    """What an fx node evaluates to: the sum of the outputs of ``names`` (or a module's tuple).

    ``tuple_of`` is ``""`` for a tensor, ``"neuron"`` for a spiking neuron's ``(spikes, state...)``
    and ``"attention"`` for MultiheadAttention's ``(output, weights)``.
    """

    names: tuple[str, ...]
    tuple_of: str = ""

    @property
    def is_tuple(self) -> bool:
        return bool(self.tuple_of)


@dataclass(frozen=True)
class _Param:
    """A parameter or buffer read with ``get_attr`` (``tensor``), or a tensor computed from one
    (``tensor`` None: only its shape, ``meta``, is known)."""

    meta: Any
    tensor: Any
    name: str


def _hashable(x) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return True


def _target_name(target) -> str:
    if isinstance(target, str):
        return target
    mod = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", repr(target))
    return f"{mod}.{name}" if mod else name


class _FxImport:
    """Importing the fx graph of ``mod`` (at ``path``, fed by ``sources``) into the builder ``b``.

    ``functions``/``methods`` map call targets to their handlers (see :mod:`.trace`);
    ``glue_functions`` names the torch functions that are data movement and
    ``layer_functions``/``layer_methods`` the ones that are DNN layers.
    """

    def __init__(self, b: _Builder, mod, path: str, sources: tuple[str, ...], *, functions: dict, methods: dict,
                 glue_functions: dict, layer_functions: dict, layer_methods: dict) -> None:
        self.b = b
        self.mod = mod
        self.path = path
        self.sources = sources
        self.registry = b.registry
        self.lead = b.lead_dims
        self.where = f"module {path!r} ({_display(type(mod), self.registry)})" if path else \
            f"module {_display(type(mod), self.registry)}"
        self.env: dict[Any, _Value] = {}  # fx node -> layer output(s)
        self.aux: dict[Any, Any] = {}  # fx node -> python value (sizes, flags) or _Param
        self.placeholders = 0
        self.result: tuple[str, ...] | None = None
        self.functions = functions
        self.methods = methods
        self.glue_functions = glue_functions
        self.layer_functions = layer_functions
        self.layer_methods = layer_methods

    # paths and errors -------------------------------------------------------------------
    def full(self, target: str) -> str:
        return f"{self.path}.{target}" if self.path else target

    def fx_error(self, node, text: str, cls: type[Exception] = UnsupportedError) -> Exception:
        return cls(f"fx node {node.name!r} ({node.op} {_target_name(node.target)}) of {self.where} {text}")

    def owner(self, node, base: str) -> str:
        """A node name for a function: the path of the module whose forward() calls it, then ``base``."""
        stack = node.meta.get("nn_module_stack") or {}
        inner = next(reversed(stack), None) if stack else None
        return self.full(f"{inner}.{base}" if inner else base)

    # values -----------------------------------------------------------------------------
    def value(self, node, arg) -> _Value:
        from torch import fx

        if not isinstance(arg, fx.Node) or arg not in self.env:
            raise self.fx_error(node, f"uses {arg!r}, which is not the output of a layer; neurosim imports layers "
                                      f"fed by the input or by other layers only")
        v = self.env[arg]
        if v.is_tuple:
            what = "(output, attention weights)" if v.tuple_of == "attention" else "(spikes, state)"
            raise self.fx_error(node, f"uses the whole {what} tuple of {arg.name!r}; take its first item with [0]")
        return v

    def layer_args(self, node) -> list:
        return [a for a in node.all_input_nodes if a in self.env]

    def meta_of(self, node, v: _Value):
        import torch

        shape = self.b.shape_of(v.names, self.owner(node, node.name), _target_name(node.target))
        return torch.empty((1,) * self.lead + tuple(shape), device="meta")

    def evaluate(self, node):
        """Run ``node`` on meta tensors (batch 1): sizes, shape checks and glue, no real data."""
        import torch
        from torch import fx

        def sub(a):
            if a in self.env:
                return self.meta_of(node, self.value(node, a))
            if a in self.aux:
                x = self.aux[a]
                return x.meta if isinstance(x, _Param) else x
            raise self.fx_error(node, f"uses {a.name!r}, which is not the output of a layer")
        args = fx.node.map_arg(node.args, sub)
        kwargs = fx.node.map_arg(node.kwargs, sub)
        try:
            with torch.no_grad():
                if node.op == "call_method":
                    return getattr(args[0], node.target)(*args[1:], **kwargs)
                return node.target(*args, **kwargs)
        except (RuntimeError, TypeError, ValueError, IndexError, AssertionError) as exc:
            raise self.fx_error(node, f"fails on the shapes of a batch of one ({type(exc).__name__}: {exc}); "
                                      f"neurosim evaluates shape code with one sample: make it independent of the "
                                      f"batch size") from None

    # nodes ------------------------------------------------------------------------------
    def add_dnn(self, node, base: str, lowered: Lowered, src: tuple[str, ...], display: str,
                in_shape=None) -> tuple[str, ...]:
        lpath = self.owner(node, base)
        shape = self.b.shape_of(src, lpath, display) if in_shape is None else in_shape
        return self.b.add_lowered(lowered, Layer(lpath, display, shape, self.lead), src)
