"""Native PyTensor operations for the layers whose generic graphs are slow.

PyTensor builds a convolution or an LSTM from many small operations (a
gather per filter tap, a ``scan`` step per time step). The operations here
compute each of them as one node, with its own gradient, and with an
implementation for every way theanets compiles: the Python ``perform`` (used
by the ``FAST_COMPILE`` mode of the tests), Numba and JAX.
"""
