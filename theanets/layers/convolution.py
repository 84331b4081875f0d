"""Convolution and pooling layers.

Convolution layers take channels-last input: ``(examples, time, channels)``
for :class:`Conv1` and :class:`Pool1`, ``(examples, width, height,
channels)`` for :class:`Conv2` and :class:`Pool2`, and keep that layout in
their outputs. As in the original library, a convolution is a *true*
convolution (Theano's ``conv2d``: the kernels are flipped), so its values are
those of ``scipy.signal.convolve`` (not ``correlate``) for every
``border_mode``:

- ``'valid'``: outputs only where the filter fits inside the input, an axis
  of length ``W`` becomes ``W - f + 1``;
- ``'full'``: wherever the filter overlaps the input (zeros outside),
  ``W + f - 1``;
- ``'same'``: the input's own length ``W``: the centre of the 'full' output,
  starting at index ``(f - 1) // 2``, as ``scipy.signal.convolve(x, w,
  mode='same')``, ``scipy.signal.convolve2d`` and ``numpy.convolve`` give
  it. The input is padded with ``f // 2`` zeros before and ``(f - 1) // 2``
  after: for an even filter the extra row/column of zeros goes *before* the
  data (top, left; at the start of a sequence).

A ``stride`` keeps every ``stride``-th output of these, starting with the
first, so the length becomes ``ceil(W' / stride)``.
"""

import numpy as np

from .. import checks, util
from ..ops.conv import conv2d
from ..ops.pool import pool
from .base import Layer

__all__ = ["Convolution", "Conv1", "Conv2", "Pooling", "Pool1", "Pool2"]

BORDER_MODES = ("valid", "full", "same")
POOL_MODES = ("max", "mean")


class _Spatial:
    """Shape checks shared by convolution and pooling layers (a mixin, so
    that it is not registered as a layer form).

    ``SPATIAL`` is the number of axes between the batch and channel axes.
    """

    SPATIAL: int | None = None

    def _abstract(self, family, forms):
        if self.SPATIAL is None:
            raise util.ConfigurationError(
                "{}: {} is the base class of the {} layers; use one of {}".format(
                    self._context(), type(self).__name__, family, ", ".join(forms)
                )
            )

    def _checked_input_shape(self):
        """The single input's shape, checked to be ``SPATIAL`` axes + channels."""
        shape = self.input_shape
        if len(shape) != self.SPATIAL + 1:
            axes = ("time",) if self.SPATIAL == 1 else ("width", "height")
            raise util.ConfigurationError(
                "{}: input {!r} has shape {} ({}-D data), but this layer needs {}-D "
                "data (examples, {}, channels)".format(
                    self._context(),
                    self.input_name,
                    checks.shape_text(shape),
                    len(shape) + 1,
                    self.SPATIAL + 2,
                    ", ".join(axes),
                )
            )
        _ = self.input_size  # raises if the channel count is unknown
        return shape

    def _set_output_shape(self, shape):
        """Record ``shape``, checking it against a given ``shape=...``."""
        given = self.kwargs.get("shape")
        if given is not None and checks.check_shape("shape", given, self._context()) != shape:
            raise util.ConfigurationError(
                "{}: shape={} was given, but the output of this layer has shape {}".format(
                    self._context(), checks.shape_text(tuple(given)), checks.shape_text(shape)
                )
            )
        self._output_shapes["out"] = shape


class Convolution(_Spatial, Layer):
    """Base class of convolution layers.

    Parameters
    ----------
    filter_size : tuple of int
        Spatial shape of each filter.
    stride : tuple of int
        Keep every ``stride``-th output along each axis (default: all).
    border_mode : {'valid', 'full', 'same'}
        'valid' computes outputs only where the filter fits inside the input
        (``W - fw + 1`` of them); 'full' wherever it overlaps the input, the
        outside taken as zeros (``W + fw - 1``); 'same' keeps the input's size
        ``W`` (the centre of 'full', as ``scipy.signal.convolve(...,
        mode='same')``; for an even filter the extra zero padding goes before
        the data). See the module documentation.
    size : int
        Number of filters: the channels of the output.

    Notes
    -----
    The weights ``w`` have Theano's shape ``(size, input channels) +
    filter_size`` and are drawn tap by tap (see :meth:`add_conv_weights`), so
    that the same seed gives the original library's initial values. Outputs
    are ``pre`` (convolution plus bias) and ``out`` (``activation(pre)``).

    Unlike the original, the output shape takes ``stride`` into account
    (``ceil(W' / stride)``), and ``to_spec`` includes ``filter_size``,
    ``stride`` and ``border_mode``, so that a layer can be rebuilt from it.
    ``border_mode='same'`` is new (the original had 'valid' and 'full').

    Examples
    --------
    >>> import theanets
    >>> net = theanets.convolution.Regressor([(6, 5, 3), dict(
    ...     form='conv2', size=4, filter_size=(3, 2), stride=(2, 2)), 'flat', 2])
    >>> conv = net.layers[1]
    >>> conv.output_shape
    (2, 2, 4)
    >>> spec = conv.to_spec()
    >>> spec['filter_size'], spec['stride'], spec['border_mode']
    ((3, 2), (2, 2), 'valid')
    """

    def __init__(self, filter_size, stride=(1, 1), border_mode="valid", **kwargs):
        super().__init__(**kwargs)
        self._abstract("convolution", ("conv1", "conv2"))
        self.filter_size = self._checked_size_arg("filter_size", filter_size)
        self.stride = self._checked_size_arg("stride", stride)
        if border_mode not in BORDER_MODES:
            raise util.ConfigurationError(
                "{}: border_mode must be one of {}, not {!r}".format(
                    self._context(), ", ".join(repr(m) for m in BORDER_MODES), border_mode
                )
            )
        self.border_mode = border_mode

    def _checked_size_arg(self, what, value):
        """``filter_size`` or ``stride`` as Theano's pair of ints."""
        return checks.check_pair(what, value, self._context())

    @property
    def _spatial_filter(self):
        """The filter size along the input's spatial axes."""
        return self.filter_size[-self.SPATIAL :]

    @property
    def _spatial_stride(self):
        return self.stride[-self.SPATIAL :]

    def resolve_outputs(self):
        """Output shape: the input's spatial axes after convolution, then ``size``."""
        shape = self._checked_input_shape()
        size = self.kwargs.get("size")
        if size is None and self.kwargs.get("shape") is not None:
            size = checks.check_shape("shape", self.kwargs["shape"], self._context())[-1]
        if size is None:
            raise util.ConfigurationError(
                "{} does not specify a size (the number of filters; give size=...)".format(
                    self._context()
                )
            )
        dims = []
        for dim, filt, step in zip(
            shape[:-1], self._spatial_filter, self._spatial_stride, strict=True
        ):
            if dim is None:
                dims.append(None)
                continue
            if self.border_mode == "valid" and filt > dim:
                raise util.ConfigurationError(
                    "{}: filter_size {} is larger than input {!r} of shape {}; with "
                    "border_mode='valid' filters must fit inside the input (or use "
                    "border_mode='full')".format(
                        self._context(),
                        self._filter_text(),
                        self.input_name,
                        checks.shape_text(shape),
                    )
                )
            full = dict(valid=dim - filt + 1, full=dim + filt - 1, same=dim)[self.border_mode]
            dims.append((full - 1) // step + 1)
        self._set_output_shape(tuple(dims) + (size,))

    def _filter_text(self):
        return checks.shape_text(self.filter_size)

    def add_conv_weights(self, name, mean=0, std=None, sparsity=0):
        """Create filter weights ``'<layer>.<name>'`` of shape ``(size, channels)
        + filter_size``.

        Each filter tap ``[:, :, r, c]`` (``r`` slowest) is an independent
        ``util.random_matrix(size, channels)`` drawn from the layer's rng,
        with ``std`` defaulting to ``1 / sqrt(channels + size)``; the layer's
        ``mean``/``std``/``sparsity`` keyword arguments (and their
        ``_<name>`` forms) override the given defaults.
        """
        nin, nout = self.input_size, self.output_size
        mean = self._option("mean", name, mean)
        std = self._option("std", name, std or 1 / np.sqrt(nin + nout))
        sparsity = self._option("sparsity", name, sparsity)
        arr = np.zeros((nout, nin) + self.filter_size, util.FLOAT)
        for r in range(self.filter_size[0]):
            for c in range(self.filter_size[1]):
                arr[:, :, r, c] = util.random_matrix(
                    nout, nin, mean=mean, std=std, sparsity=sparsity, rng=self.rng
                )
        return self._add_param(name, arr)

    def setup(self):
        self.add_conv_weights("w")
        self.add_bias("b", self.output_size)

    def _convolve(self, images):
        """``images`` (N, W, H, C) convolved with ``w``, plus ``b``."""
        return conv2d(
            images, self.find("w"), self.filter_size, self.border_mode, self.stride
        ) + self.find("b")

    def to_spec(self):
        spec = super().to_spec()
        spec.update(filter_size=self.filter_size, stride=self.stride, border_mode=self.border_mode)
        return spec

    def log(self):
        super().log()
        util.log(
            "{} {} filter {} stride {}",
            self._context(),
            self.border_mode,
            self._filter_text(),
            checks.shape_text(self.stride),
        )


class Conv1(Convolution):
    """Convolution over time of ``(examples, time, channels)`` input.

    Parameters
    ----------
    filter_size : int
        Number of time steps each filter spans.
    stride : int
        Keep every ``stride``-th output step (default 1: all).
    border_mode : {'valid', 'full', 'same'}
        Output length ``T - filter_size + 1`` ('valid'), ``T + filter_size -
        1`` ('full') or ``T`` ('same': ``filter_size // 2`` zeros before the
        sequence and ``(filter_size - 1) // 2`` after, as
        ``numpy.convolve(..., mode='same')``).
    size : int
        Number of filters.

    Notes
    -----
    Parameters ``w`` ``(size, channels, 1, filter_size)`` (Theano's layout,
    as in the original: internally a 2-D convolution with filter
    ``(1, filter_size)``) and ``b`` ``(size,)``; outputs ``pre`` and ``out``
    of shape ``(examples, T', size)``.

    The original inferred a wrong output shape when the time length was
    known (an extra axis: ``(10, 8, 4)`` for 10 steps, filter 3 and 4
    filters); here it is ``(8, 4)``.

    Examples
    --------
    >>> import numpy as np
    >>> import theanets
    >>> net = theanets.recurrent.Regressor(
    ...     [3, dict(form='conv1', size=4, filter_size=2), 2])
    >>> [(p.name, p.get_value().shape) for p in net.layers[1].params]
    [('hid1.w', (4, 3, 1, 2)), ('hid1.b', (4,))]
    >>> x = np.zeros((2, 6, 3), dtype='float32')
    >>> net.feed_forward(x)['hid1:out'].shape
    (2, 5, 4)
    >>> theanets.Regressor([(10, 3), dict(form='conv1', size=4, filter_size=3),
    ...                     'flat', 2]).layers[1].output_shape
    (8, 4)
    >>> theanets.Regressor([(10, 3), dict(form='conv1', size=4, filter_size=4,
    ...                     border_mode='same'), 'flat', 2]).layers[1].output_shape
    (10, 4)
    """

    SPATIAL = 1

    def __init__(self, filter_size, stride=1, border_mode="valid", **kwargs):
        super().__init__(filter_size=filter_size, stride=stride, border_mode=border_mode, **kwargs)

    def _checked_size_arg(self, what, value):
        """An int ``filter_size`` or ``stride`` as Theano's pair ``(1, value)``."""
        return (1, checks.check_count(what, value, self._context()))

    def _filter_text(self):
        return str(self.filter_size[1])

    def transform(self, inputs):
        # (N, T, C) -> images (N, 1, T, C) -> (N, 1, T', n) -> (N, T', n)
        x = self._only_input(inputs).dimshuffle(0, "x", 1, 2)
        pre = self._convolve(x)[:, 0]
        return dict(pre=pre, out=self.activate(pre)), []

    def to_spec(self):
        spec = super().to_spec()
        spec.update(filter_size=self.filter_size[1], stride=self.stride[1])
        return spec


class Conv2(Convolution):
    """Convolution of ``(examples, width, height, channels)`` images.

    Parameters
    ----------
    filter_size : (int, int)
        Width and height of each filter.
    stride : (int, int)
        Keep every ``stride``-th output along each axis (default ``(1, 1)``).
    border_mode : {'valid', 'full', 'same'}
        Output ``W - fw + 1`` by ``H - fh + 1`` ('valid'), ``W + fw - 1``
        by ``H + fh - 1`` ('full'), or ``W`` by ``H`` ('same': the image is
        padded with ``fw // 2`` rows of zeros above and ``(fw - 1) // 2``
        below, ``fh // 2`` columns left and ``(fh - 1) // 2`` right, as
        ``scipy.signal.convolve2d(..., mode='same')``).
    size : int
        Number of filters: the channels of the output.

    Notes
    -----
    Parameters ``w`` ``(size, channels, fw, fh)`` and ``b`` ``(size,)``;
    outputs ``pre`` and ``out`` of shape ``(examples, W', H', size)``.

    Examples
    --------
    >>> import numpy as np
    >>> import theanets
    >>> net = theanets.convolution.Regressor(
    ...     [(6, 5, 3), dict(form='conv2', size=4, filter_size=(3, 2)), 'flat', 2])
    >>> conv = net.layers[1]
    >>> conv.output_shape, [p.get_value().shape for p in conv.params]
    ((4, 4, 4), [(4, 3, 3, 2), (4,)])
    >>> net.predict(np.zeros((2, 6, 5, 3), dtype='float32')).shape
    (2, 2)

    With ``border_mode='same'`` the output keeps the image's size, for odd
    and even filters:

    >>> theanets.convolution.Regressor([(6, 5, 3), dict(
    ...     form='conv2', size=4, filter_size=(3, 2), border_mode='same'),
    ...     'flat', 2]).layers[1].output_shape
    (6, 5, 4)
    """

    SPATIAL = 2

    def transform(self, inputs):
        pre = self._convolve(self._only_input(inputs))
        return dict(pre=pre, out=self.activate(pre)), []


class Pooling(_Spatial, Layer):
    """Base class of pooling layers: the largest value, or the mean, of each
    window of ``pool_size`` steps.

    Windows start every ``stride`` steps from the first element; by default
    ``stride`` is the pool size, so windows do not overlap, and an axis of
    length ``W`` becomes ``W // pool``. A smaller stride gives overlapping
    windows, a larger one leaves gaps; in general an axis becomes ``(W -
    pool) // stride + 1`` (a partial window at the end of an axis is
    dropped, as Theano's ``ignore_border=True``). The channels are kept:
    ``size``, if given, must equal the input's channel count. There are no
    parameters and one output, ``out``. Like the other structural layers
    (flat, concat, ...) pooling applies no activation: the activation is
    always ``'linear'``, whatever the spec says (a network gives its hidden
    layers ``'relu'`` by default, which would otherwise silently clip the
    pooled output of, say, a tanh convolution).

    The original's pooling layers could not be used: they took no
    ``pool_size`` or ``mode`` and called a Theano module that no longer
    existed (AttributeError when the graph was built). These work.

    Parameters
    ----------
    pool_size : int or tuple of int
        Window size along each spatial axis.
    mode : {'max', 'mean'}
        How to summarise a window.
    stride : int or tuple of int, optional
        Steps between the starts of consecutive windows along each spatial
        axis (default: ``pool_size``, non-overlapping windows).

    Examples
    --------
    >>> import theanets
    >>> net = theanets.convolution.Regressor([(6, 5, 3), 'pool2', 'flat', 2])
    >>> pool2 = net.layers[1]
    >>> pool2.output_shape, pool2.params
    ((3, 2, 3), [])
    >>> spec = pool2.to_spec()
    >>> spec['pool_size'], spec['stride'], spec['mode'], spec['activation']
    ((2, 2), (2, 2), 'max', 'linear')
    """

    def __init__(self, pool_size=None, mode="max", stride=None, **kwargs):
        kwargs["activation"] = "linear"
        super().__init__(**kwargs)
        self._abstract("pooling", ("pool1", "pool2"))
        self.pool_size = self._checked_pool_size("pool_size", pool_size)
        self.stride = (
            self.pool_size if stride is None else self._checked_pool_size("stride", stride)
        )
        if mode not in POOL_MODES:
            raise util.ConfigurationError(
                "{}: mode must be one of {}, not {!r}".format(
                    self._context(), ", ".join(repr(m) for m in POOL_MODES), mode
                )
            )
        self.mode = mode

    def _checked_pool_size(self, what, value):
        """``pool_size`` or ``stride`` as a pair of positive ints."""
        return checks.check_pair(what, value, self._context())

    def resolve_outputs(self):
        """Output shape: the number of windows along each spatial axis; channels kept."""
        shape = self._checked_input_shape()
        size = self.kwargs.get("size")
        if size is not None and size != shape[-1]:
            raise util.ConfigurationError(
                "{}: size={} was given, but pooling keeps the {} channels of input {!r}".format(
                    self._context(), size, shape[-1], self.input_name
                )
            )
        dims = []
        for dim, p, s in zip(shape[:-1], self.pool_size, self.stride, strict=True):
            if dim is not None and p > dim:
                raise util.ConfigurationError(
                    "{}: pool_size {} is larger than input {!r} of shape {}".format(
                        self._context(),
                        self._pool_text(),
                        self.input_name,
                        checks.shape_text(shape),
                    )
                )
            dims.append(None if dim is None else (dim - p) // s + 1)
        self._set_output_shape(tuple(dims) + (shape[-1],))

    def _pool_text(self):
        return checks.shape_text(self.pool_size)

    def transform(self, inputs):
        return pool(self._only_input(inputs), self.pool_size, self.mode, self.stride), []

    def to_spec(self):
        spec = super().to_spec()
        spec.update(pool_size=self.pool_size, mode=self.mode, stride=self.stride)
        return spec


class Pool1(Pooling):
    """Pooling over time of ``(examples, time, channels)`` input.

    Parameters
    ----------
    pool_size : int
        Time steps per window (default 2).
    mode : {'max', 'mean'}
        How to summarise a window (default 'max').
    stride : int, optional
        Time steps between the starts of consecutive windows (default:
        ``pool_size``; a smaller stride gives overlapping windows).

    Examples
    --------
    >>> import numpy as np
    >>> import theanets
    >>> net = theanets.Regressor([(5, 2), dict(form='pool1', pool_size=2), 'flat', 1])
    >>> net.layers[1].output_shape
    (2, 2)
    >>> x = np.arange(10, dtype='float32').reshape((1, 5, 2))
    >>> net.feed_forward(x)['hid1:out'][0].tolist()
    [[2.0, 3.0], [6.0, 7.0]]

    Overlapping windows (3 steps, every step):

    >>> net = theanets.Regressor([(5, 1), dict(form='pool1', pool_size=3, stride=1),
    ...                           'flat', 1])
    >>> x = np.array([[[1], [5], [2], [0], [3]]], dtype='float32')
    >>> net.feed_forward(x)['hid1:out'][0, :, 0].tolist()
    [5.0, 5.0, 3.0]
    """

    SPATIAL = 1

    def __init__(self, pool_size=2, mode="max", stride=None, **kwargs):
        super().__init__(pool_size=pool_size, mode=mode, stride=stride, **kwargs)

    def _checked_pool_size(self, what, value):
        """An int ``pool_size`` or ``stride`` as a 1-tuple."""
        return (checks.check_count(what, value, self._context()),)

    def _pool_text(self):
        return str(self.pool_size[0])

    def to_spec(self):
        spec = super().to_spec()
        spec.update(pool_size=self.pool_size[0], stride=self.stride[0])
        return spec


class Pool2(Pooling):
    """Pooling of ``(examples, width, height, channels)`` images.

    Parameters
    ----------
    pool_size : (int, int)
        Window width and height (default ``(2, 2)``).
    mode : {'max', 'mean'}
        How to summarise a window (default 'max').
    stride : (int, int), optional
        Steps between the starts of consecutive windows along the width and
        the height (default: ``pool_size``; smaller gives overlapping
        windows).

    Examples
    --------
    >>> import numpy as np
    >>> import theanets
    >>> net = theanets.convolution.Regressor(
    ...     [(4, 5, 1), dict(form='pool2', mode='mean'), 'flat', 1])
    >>> net.layers[1].output_shape
    (2, 2, 1)
    >>> x = np.arange(20, dtype='float32').reshape((1, 4, 5, 1))
    >>> net.feed_forward(x)['hid1:out'][0, :, :, 0].tolist()
    [[3.0, 5.0], [13.0, 15.0]]

    3x3 windows every 2 steps (they overlap by one row and column):

    >>> theanets.convolution.Regressor([(7, 5, 1), dict(
    ...     form='pool2', pool_size=(3, 3), stride=(2, 2)), 'flat', 1]).layers[1].output_shape
    (3, 2, 1)
    """

    SPATIAL = 2

    def __init__(self, pool_size=(2, 2), mode="max", stride=None, **kwargs):
        super().__init__(pool_size=pool_size, mode=mode, stride=stride, **kwargs)
