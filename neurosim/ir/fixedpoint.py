"""Fixed-point formats: the single definition of rounding and overflow.

Both the engine and the RTL generator use these functions, so the numbers a user sees in an
estimate are the numbers the generated hardware computes.

A :class:`FixedPoint` value with ``width`` bits and ``frac_bits`` fractional bits represents the
real number ``q * 2**-frac_bits`` where ``q`` is a two's-complement integer (``signed=True``) in
``[-2**(width-1), 2**(width-1) - 1]`` or an unsigned integer in ``[0, 2**width - 1]``.

Rounding (float -> integer code):

* ``nearest_even`` -- round half to even (IEEE default, numpy's ``rint``),
* ``nearest_up``   -- round half towards +inf, ``floor(x + 0.5)`` (cheap in hardware: add half an LSB),
* ``floor``        -- towards -inf (arithmetic right shift in hardware),
* ``zero``         -- towards zero (truncate magnitude).

Overflow:

* ``saturate`` -- clamp to the representable range (what the generated RTL does),
* ``wrap``     -- keep the low ``width`` bits (two's-complement wrap-around),
* ``error``    -- raise :class:`~neurosim.errors.FixedPointError` naming the value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.errors import FixedPointError

ROUNDING_MODES = ("nearest_even", "nearest_up", "floor", "zero")
OVERFLOW_MODES = ("saturate", "wrap", "error")


@dataclass(frozen=True)
class FixedPoint:
    """A signed or unsigned fixed-point number format (see module docstring)."""

    width: int
    frac_bits: int = 0
    signed: bool = True
    rounding: str = "nearest_even"
    overflow: str = "saturate"

    def __post_init__(self) -> None:
        if not isinstance(self.width, (int, np.integer)) or isinstance(self.width, bool) or not 1 <= self.width <= 62:
            raise FixedPointError(
                f"FixedPoint.width must be an integer in 1..62, found {self.width!r}; pick the bit width of the hardware register"
            )
        if not isinstance(self.frac_bits, (int, np.integer)) or isinstance(self.frac_bits, bool) or not -62 <= self.frac_bits <= 62:
            raise FixedPointError(
                f"FixedPoint.frac_bits must be an integer in -62..62, found {self.frac_bits!r}"
            )
        if self.signed and self.width < 2:
            raise FixedPointError(
                f"FixedPoint.width must be >= 2 for a signed format, found {self.width!r}; use signed=False for 1-bit values"
            )
        if self.rounding not in ROUNDING_MODES:
            raise FixedPointError(
                f"FixedPoint.rounding must be one of {ROUNDING_MODES}, found {self.rounding!r}"
            )
        if self.overflow not in OVERFLOW_MODES:
            raise FixedPointError(
                f"FixedPoint.overflow must be one of {OVERFLOW_MODES}, found {self.overflow!r}"
            )
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "frac_bits", int(self.frac_bits))

    # -- range ---------------------------------------------------------------------------------
    @property
    def min_int(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_int(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def lsb(self) -> float:
        """The real value of one least-significant bit."""
        return 2.0 ** (-self.frac_bits)

    def describe(self) -> str:
        """Short Q-notation, e.g. ``s8.4`` (signed, 8 bits, 4 fractional) or ``u4.0``."""
        return f"{'s' if self.signed else 'u'}{self.width}.{self.frac_bits}"

    # -- conversions ---------------------------------------------------------------------------
    def quantize(self, x, *, what: str = "value") -> np.ndarray:
        """Round real values to integer codes of this format (int64), then apply the overflow rule."""
        scaled = np.asarray(x, dtype=np.float64) * (2.0 ** self.frac_bits)
        if not np.all(np.isfinite(scaled)):
            bad = scaled[~np.isfinite(scaled)].flat[0].item()
            raise FixedPointError(f"{what} contains a non-finite value {bad!r}; fixed point cannot represent it")
        codes = round_codes(scaled, self.rounding)
        return self.fit(codes, what=what)

    def to_float(self, codes) -> np.ndarray:
        """Real values of integer codes."""
        return np.asarray(codes, dtype=np.float64) * self.lsb

    def fit(self, codes, *, what: str = "value") -> np.ndarray:
        """Apply this format's overflow rule to integer codes (int64 in, int64 out)."""
        codes = np.asarray(codes, dtype=np.int64)
        if self.overflow == "saturate":
            return saturate(codes, self.min_int, self.max_int)
        if self.overflow == "wrap":
            return wrap(codes, self.width, self.signed)
        out_of_range = (codes < self.min_int) | (codes > self.max_int)
        if np.any(out_of_range):
            bad = int(codes[out_of_range].flat[0])
            raise FixedPointError(
                f"{what} code {bad!r} overflows {self.describe()} (range {self.min_int}..{self.max_int}); "
                f"widen the format or use overflow='saturate'"
            )
        return codes

    def add(self, a, b, *, what: str = "sum") -> np.ndarray:
        """Add two code arrays in this format (saturating/wrapping/erroring per ``overflow``)."""
        return self.fit(np.asarray(a, dtype=np.int64) + np.asarray(b, dtype=np.int64), what=what)


def round_codes(scaled: np.ndarray, rounding: str) -> np.ndarray:
    """Round already-scaled reals to integers with the given rounding mode (int64)."""
    if rounding == "nearest_even":
        r = np.rint(scaled)
    elif rounding == "nearest_up":
        r = np.floor(scaled + 0.5)
    elif rounding == "floor":
        r = np.floor(scaled)
    elif rounding == "zero":
        r = np.trunc(scaled)
    else:  # pragma: no cover - FixedPoint validates the mode
        raise FixedPointError(f"unknown rounding mode {rounding!r}; expected one of {ROUNDING_MODES}")
    return r.astype(np.int64)


def saturate(codes: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Clamp integer codes to ``[lo, hi]``: the saturating behaviour of the RTL adders."""
    return np.clip(np.asarray(codes, dtype=np.int64), lo, hi)


def wrap(codes: np.ndarray, width: int, signed: bool) -> np.ndarray:
    """Keep the low ``width`` bits of integer codes (two's-complement wrap-around)."""
    codes = np.asarray(codes, dtype=np.int64)
    mask = (1 << width) - 1
    low = codes & mask
    if signed:
        low = np.where(low >= (1 << (width - 1)), low - (1 << width), low)
    return low.astype(np.int64)


def shift_right(codes: np.ndarray, k) -> np.ndarray:
    """Arithmetic right shift (rounds towards -inf), the hardware's leak ``v >> k``."""
    return np.right_shift(np.asarray(codes, dtype=np.int64), np.asarray(k, dtype=np.int64))
