"""Type aliases shared by the package's annotations.

PyTensor's symbolic variables have many classes (dense, sparse, shared,
constant) whose common methods mypy cannot always see on one base, so the
annotations name them through :data:`Symbolic`, one alias kept here; the
numeric arrays a model takes and returns are :data:`Array` (anything
``numpy.asarray`` accepts) and :data:`NDArray`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import IO, Any, TypeAlias

import numpy as np
import numpy.typing as npt

#: A symbolic PyTensor variable: ``TensorVariable``, ``SparseVariable``, a
#: shared or a constant one. ``Any`` because their methods (``.sum()``,
#: ``.ndim``, ``.dimshuffle``) are not declared on one common base.
Symbolic: TypeAlias = Any

#: A graph's outputs by full name (``'hid1:out'``).
Outputs: TypeAlias = Mapping[str, Symbolic]

#: Numeric input data: anything ``numpy.asarray`` accepts.
Array: TypeAlias = npt.ArrayLike

#: A numpy array a model returns.
NDArray: TypeAlias = npt.NDArray[Any]

#: A model's or layer's ``rng``: a seed, or a numpy random state or generator.
Rng: TypeAlias = int | np.random.RandomState | np.random.Generator | None

#: Where a model is saved or loaded: a path, or an open binary file.
PathOrFile: TypeAlias = str | os.PathLike[str] | IO[bytes]

__all__ = ["Array", "NDArray", "Outputs", "PathOrFile", "Rng", "Symbolic"]
