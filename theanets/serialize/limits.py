"""Ceilings the loaders check before they take memory.

Every size a model file declares (its length, what it decompresses to, the
arrays it holds, the objects a pickle builds, the layers a safe file asks
for) is checked against what the file can hold and against these ceilings
*before* memory is allocated for it. They are module attributes: a program
that loads files larger than these may raise them, e.g.
``theanets.serialize.limits.MAX_FILE_BYTES = 16 << 30``.
"""

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_COMPRESSION_RATIO",
    "MAX_PICKLE_OPCODES",
    "MAX_PICKLE_NODES",
    "MAX_NPZ_ENTRIES",
    "MAX_DESCRIPTION_BYTES",
    "MAX_HEADER_BYTES",
    "BUILD_FLOOR",
    "BUILD_FACTOR",
]

#: The most bytes a model file may hold, or decompress to (8 GiB).
MAX_FILE_BYTES = 8 << 30

#: How many times its compressed size a gzip file or a deflated zip entry
#: may decompress to. Model parameters compress poorly (random floats: about
#: 1.1 times); a file claiming more is refused as a decompression bomb.
MAX_COMPRESSION_RATIO = 32

#: The most opcodes a pickle may hold (a model pickle holds about 500 per
#: layer, whatever its size: the parameters are one opcode each).
MAX_PICKLE_OPCODES = 2_000_000

#: The most objects a pickled value may reach when walked as a tree (shared
#: references counted every time they are reached): stops object graphs that
#: grow exponentially with the file's length.
MAX_PICKLE_NODES = 10_000_000

#: The most entries a safe (npz) file may hold (a model has about three per layer).
MAX_NPZ_ENTRIES = 100_000

#: The most bytes the JSON description of a safe file may take (64 MiB).
MAX_DESCRIPTION_BYTES = 64 << 20

#: The most bytes one ``.npy`` header in a safe file may take.
MAX_HEADER_BYTES = 10_000

#: Rebuilding the layers of a safe file may create at most
#: ``BUILD_FLOOR + BUILD_FACTOR * (values stored in the file)`` parameter
#: values, estimated from the layer sizes before any layer is built.
BUILD_FLOOR = 1 << 24
BUILD_FACTOR = 16
