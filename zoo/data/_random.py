"""Counter-based random numbers for the dataset builders: the same values on every machine.

numpy's and torch's generators may change their streams between versions, and the lead
rebuilds the sets elsewhere and compares digests; a splitmix64 hash of (seed, stream, index)
depends on nothing but integer arithmetic, so a build is reproducible bit for bit.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["RandomStream"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """Return the splitmix64 finaliser of each uint64 in `x`."""
    with np.errstate(over="ignore"):
        z = x * _GOLDEN + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


class RandomStream:
    """Named streams of reproducible random numbers derived from one integer seed.

    Each call names its stream, so adding a new draw never shifts the values of the others.
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def _bits(self, stream: str, n: int) -> np.ndarray:
        key = hashlib.sha256(f"{self.seed}/{stream}".encode()).digest()
        base = np.frombuffer(key[:8], dtype="<u8")[0]
        with np.errstate(over="ignore"):
            return _splitmix64(np.arange(n, dtype=np.uint64) + _splitmix64(np.array([base]))[0])

    def uniform(self, stream: str, n: int, low: float = 0.0, high: float = 1.0) -> np.ndarray:
        """Return `n` float64 values uniform in [low, high)."""
        u = (self._bits(stream, n) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
        return low + (high - low) * u

    def integers(self, stream: str, n: int, high: int | np.ndarray) -> np.ndarray:
        """Return `n` int64 values in [0, high) (`high` may be one bound per value)."""
        high = np.asarray(high, dtype=np.int64)
        return np.minimum((self.uniform(stream, n) * high).astype(np.int64), high - 1)

    def normal(self, stream: str, n: int) -> np.ndarray:
        """Return `n` standard normal float64 values (Box-Muller)."""
        u1 = self.uniform(stream + "/u1", n)
        u2 = self.uniform(stream + "/u2", n)
        return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)

    def choice(self, stream: str, n: int, p: float) -> np.ndarray:
        """Return `n` booleans, each True with probability `p`."""
        return self.uniform(stream, n) < p
