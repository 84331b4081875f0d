'''The Network class: layers, losses, the computation graph, training, saving.'''

import gzip
import hashlib
import os
import pickle
import warnings

import numpy as np
import pytensor
import pytensor.tensor as TT

from . import checks
from . import feedback
from . import layers
from . import losses
from . import regularizers
from . import util

__all__ = ['Network']


class Network:
    '''A neural network: a list of layers, a list of losses, and their graph.

    Parameters
    ----------
    layers : sequence of layer specs
        One spec per layer, first the input layer (see :meth:`add_layer`
        for the forms a spec may take). Layers are named ``in``, ``hid1``,
        ``hid2``, ..., ``out`` unless a spec names them.
    loss : str or dict
        The loss to minimise (see :mod:`theanets.losses`); default ``'mse'``.
    weighted : bool
        If True, the loss takes an extra array of weights, shaped like the
        target.
    rng : int or numpy.random.RandomState
        Seed of the initial parameters. With an int every layer starts its
        own ``RandomState(rng)``, exactly as the original library did, so the
        same seed gives the same initial parameters.

    Attributes
    ----------
    layers : list of Layer
    losses : list of Loss
    '''

    DEFAULT_OUTPUT_ACTIVATION = 'linear'
    INPUT_NDIM = 2
    OUTPUT_NDIM = 2

    def __init__(self, layers=(), loss='mse', weighted=False, rng=13):
        self._rng = rng
        self.layers = []
        self.losses = []
        self._graphs = {}
        self._functions = {}
        layers = list(layers)
        for i, spec in enumerate(layers):
            last = i == len(layers) - 1
            self.add_layer(
                layer=spec,
                name='in' if i == 0 else 'out' if last else 'hid{}'.format(i),
                activation=self.DEFAULT_OUTPUT_ACTIVATION if last else 'relu')
        for layer in self.layers:
            layer.bind(self)
        if loss and self.layers:
            self.set_loss(loss, weighted=weighted, target=self.OUTPUT_NDIM,
                          output_name=self.layers[-1].output_name)

    # ----- building -------------------------------------------------------

    def add_layer(self, layer=None, **kwargs):
        '''Add a layer to the network (it is bound by the constructor).

        Parameters
        ----------
        layer : int, tuple, dict, str or Layer
            * an int: the number of units (a feedforward layer, or the input
              layer if it is the first);
            * a tuple of ints: the per-example shape;
            * a tuple mixing an int (size), registered layer forms (``'ff'``,
              ``'tied'``, ``'softmax'``, ...) and activation names;
            * a dict: ``form`` plus keyword arguments of the layer;
            * a string: a layer form with no size (``'flat'``);
            * a Layer instance, added as is.
        **kwargs
            Defaults for the layer's keyword arguments (name, activation).

        Raises
        ------
        ConfigurationError
            For an unknown form (also a KeyError), the abstract form
            ``'layer'``, a duplicate size, a tied layer without a partner, a
            duplicate input name, or a duplicate layer name (the original
            accepted duplicate names and then mixed up the layers' outputs).
        '''
        if isinstance(layer, layers.Layer):
            self._check_new_name(layer)
            self.layers.append(layer)
            return layer
        name = kwargs.get('name', '?')
        context = 'layer {!r}: '.format(name)
        form = kwargs.pop('form', 'ff' if self.layers else 'input')
        if isinstance(layer, str):
            form = layer
        elif isinstance(layer, (tuple, list)) and layer and \
                all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in layer):
            kwargs['shape'] = tuple(int(x) for x in layer)
        elif isinstance(layer, (tuple, list)):
            sized = False
            for item in layer:
                if isinstance(item, str) and layers.Layer.is_registered(item):
                    form = item
                elif isinstance(item, str):
                    kwargs['activation'] = item
                elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
                    if sized:
                        raise util.ConfigurationError(
                            '{}duplicate layer sizes in spec {!r}'.format(context, layer))
                    kwargs['size'] = int(item)
                    sized = True
                else:
                    raise util.ConfigurationError(
                        '{}cannot understand {!r} in spec {!r}: expected an int size, '
                        'a layer form or an activation name'.format(context, item, layer))
        elif isinstance(layer, dict):
            for key, value in layer.items():
                if key == 'form':
                    form = value
                else:
                    kwargs[key] = value
        elif isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
            kwargs['size'] = int(layer)
        elif layer is not None:
            raise util.ConfigurationError(
                '{}a layer spec must be an int, tuple, dict, string or Layer, not {!r}'.format(
                    context, layer))

        if not isinstance(form, str) or not layers.Layer.is_registered(form):
            raise util.unknown_name('layer form', form, layers.Layer._registry, context=context)
        form = form.lower()
        if layers.Layer.get_class(form) is layers.Layer:
            raise util.ConfigurationError(
                '{}form {!r} is the abstract base class of layers; use a concrete form: {}'.format(
                    context, form, ', '.join(sorted(
                        k for k, c in layers.Layer._registry.items() if c is not layers.Layer))))

        if form == 'input':
            if 'shape' not in kwargs:
                kwargs.setdefault('ndim', self.INPUT_NDIM)
        else:
            if self.layers:
                kwargs.setdefault('inputs', self.layers[-1].output_name)
            kwargs.setdefault('rng', self._rng)

        if form == 'tied' and 'partner' not in kwargs:
            kwargs['partner'] = self._find_tied_partner(context)

        new = layers.Layer.build(form, **kwargs)
        self._check_new_name(new)
        self.layers.append(new)
        return new

    def _check_new_name(self, new):
        '''A new layer's name must differ from every existing layer's name.'''
        context = 'layer {!r}: '.format(new.name)
        if isinstance(new, layers.Input) and new.name in [v.name for v in self.inputs]:
            raise util.ConfigurationError('{}duplicate input name {!r}'.format(context, new.name))
        if new.name in [l.name for l in self.layers]:
            raise util.ConfigurationError(
                '{}duplicate layer name {!r}: the network already has a layer of that name '
                '(layers: {})'.format(context, new.name, [l.name for l in self.layers]))

    def _find_tied_partner(self, context):
        '''The layer a new tied layer mirrors: walk back, pairing tied layers.'''
        depth = 1
        for layer in reversed(self.layers):
            depth += 1 if isinstance(layer, layers.Tied) else -1
            if depth == 0:
                return layer.name
        raise util.ConfigurationError(
            '{}cannot find partner for tied layer: every earlier layer is already '
            'paired (layers: {})'.format(context, [l.name for l in self.layers]))

    def add_loss(self, loss=None, **kwargs):
        '''Add a loss to the network.

        Parameters
        ----------
        loss : str, dict or Loss
            A Loss instance is added as is; a string names the loss form
            (default ``'mse'``); a dict gives ``form`` and keyword arguments.
        **kwargs
            Keyword arguments of the loss (``weight``, ``target``,
            ``weighted``, ``output_name``, ...). ``target`` defaults to an
            array with the model's INPUT_NDIM dimensions and ``output_name``
            to the last layer's output.
        '''
        if isinstance(loss, losses.Loss):
            self.losses.append(loss)
            return loss
        form = kwargs.pop('form', None) or loss or 'mse'
        options = dict(target=self.INPUT_NDIM, output_name=self.layers[-1].output_name)
        options.update(kwargs)
        if isinstance(loss, dict):
            options.update({k: v for k, v in loss.items() if k != 'form'})
            form = loss.get('form', 'mse')
        if not isinstance(form, str) or not losses.Loss.is_registered(form):
            raise util.unknown_name('loss', form, losses.Loss._registry)
        new = losses.Loss.build(form.lower(), **options)
        self.losses.append(new)
        return new

    def set_loss(self, *args, **kwargs):
        '''Replace all losses with one: arguments as :meth:`add_loss`.'''
        self.losses = []
        return self.add_loss(*args, **kwargs)

    # ----- introspection --------------------------------------------------

    @property
    def inputs(self):
        '''Symbolic input variables, one per Input layer, in layer order.'''
        return [layer.input for layer in self.layers if isinstance(layer, layers.Input)]

    @property
    def variables(self):
        '''All symbolic data the training loss needs: inputs, targets, weights.

        This is the order of arrays in training data (``[X, y]``,
        ``[X, y, w]``, or ``[X]`` for an autoencoder). Variables are
        de-duplicated by name.
        '''
        result = list(self.inputs)
        seen = set(v.name for v in result)
        for loss in self.losses:
            for var in loss.variables:
                if var.name not in seen:
                    seen.add(var.name)
                    result.append(var)
        return result

    @property
    def params(self):
        '''All parameters (shared variables), in layer order.'''
        return [param for layer in self.layers for param in layer.params]

    @property
    def num_params(self):
        '''Total number of parameter values.'''
        return sum(int(np.prod(p.get_value().shape)) for p in self.params)

    def find(self, which, param):
        '''Get a parameter of a layer.

        Parameters
        ----------
        which : int or str
            Layer index (0 is the input layer) or layer name.
        param : int or str
            Index into the layer's parameters, or the name suffix (``'w'``).

        Raises
        ------
        UnknownNameError
            (a KeyError) if there is no such layer or parameter.
        '''
        if isinstance(which, (int, np.integer)):
            if not -len(self.layers) <= which < len(self.layers):
                raise util.UnknownNameError('no layer {} in a network of {} layers'.format(
                    which, len(self.layers)))
            return self.layers[which].find(param)
        for layer in self.layers:
            if layer.name == which:
                return layer.find(param)
        raise util.unknown_name('layer', which, [l.name for l in self.layers])

    # ----- graph ----------------------------------------------------------

    def _hash(self, regs=()):
        '''A key for the graph built with regularizers ``regs``.'''
        # Layer and loss identities are part of the key: a new layer with an
        # old one's name and shape (a layerwise stage's output) is a new graph.
        parts = [(type(l).__name__, l.name, l.output_shape, id(l)) for l in self.layers]
        parts += [(type(l).__name__, l.weight, l.output_name, id(l)) for l in self.losses]
        parts += [(type(r).__name__, r.weight, r.pattern) for r in regs]
        return hashlib.md5(repr(parts).encode('utf8')).hexdigest()

    def build_graph(self, regularizers=()):
        '''Connect the layers into a symbolic graph.

        Parameters
        ----------
        regularizers : sequence of Regularizer
            Each may modify every layer's outputs (noise, dropout) before
            later layers use them.

        Returns
        -------
        outputs : dict
            Full output name (``'hid1:out'``) -> symbolic expression.
        updates : list
            Update pairs required by the layers and regularizers (scan
            states, random generator states); usually empty.
        '''
        key = self._hash(regularizers)
        if key not in self._graphs:
            util.log('building computation graph')
            outputs, updates = {}, []
            for layer in self.layers:
                out, upd = layer.connect(outputs)
                for reg in regularizers:
                    reg.modify_graph(out)
                outputs.update(out)
                updates.extend(upd)
            for reg in regularizers:
                updates.extend(reg.updates())
            self._graphs[key] = outputs, updates
        return self._graphs[key]

    def _compile(self, key, inputs, outputs, updates=()):
        '''Compile (once per key) a function, caching it in ``_functions``.'''
        if key not in self._functions:
            self._functions[key] = pytensor.function(
                inputs, outputs, updates=list(updates), on_unused_input='ignore')
        return self._functions[key]

    def _expected_inputs(self):
        return [checks.Expected(layer.name, len(layer.output_shape) + 1, layer.output_shape,
                                sparse=layer.sparse)
                for layer in self.layers if isinstance(layer, layers.Input)]

    def _output_layer(self, output_name):
        prefix, _, suffix = output_name.partition(':')
        for layer in self.layers:
            if layer.name == prefix and suffix in layer._output_shapes:
                return layer
        return None

    def _expected_variables(self):
        '''An :class:`~theanets.checks.Expected` per array of ``variables``.'''
        result = self._expected_inputs()
        seen = set(e.name for e in result)
        for loss in self.losses:
            layer = self._output_layer(loss.output_name)
            out_shape = layer.output_shape if layer is not None else None
            target = loss.variables[0]
            is_int = target.dtype.startswith('int')
            if is_int:
                shape = out_shape[:-1] if out_shape is not None else None
            else:
                shape = out_shape
            if shape is not None and len(shape) != target.ndim - 1:
                shape = None
            for var in loss.variables:
                if var.name in seen:
                    continue
                seen.add(var.name)
                if var is target and is_int:
                    result.append(checks.Expected(
                        var.name, var.ndim, shape, dtype='int',
                        classes=out_shape[-1] if out_shape else None))
                else:
                    result.append(checks.Expected(var.name, var.ndim, shape))
        return result

    def _check_input(self, caller, x):
        '''Check and cast the single input array of feed_forward/predict.'''
        expected = self._expected_inputs()
        if len(expected) != 1:
            raise util.DataError(
                '{} takes one input array, but this network has {} inputs ({}); '
                'compile a function of model.inputs instead'.format(
                    caller, len(expected), ', '.join(e.name for e in expected)))
        return checks.prepare_one(caller, expected[0], x)

    def feed_forward(self, x, **kwargs):
        '''Compute every output of the network for input ``x``.

        Parameters
        ----------
        x : ndarray (or scipy.sparse matrix for a sparse input)
            Input data, examples along axis 0.
        **kwargs
            Regularizers (``hidden_dropout=0.5``, ``input_noise=0.1``, ...)
            applied while computing; see :func:`theanets.regularizers.from_kwargs`.

        Returns
        -------
        dict mapping each output name (``'hid1:out'``) to an ndarray.
        '''
        x = self._check_input('{}.feed_forward'.format(type(self).__name__), x)
        regs = regularizers.from_kwargs(self, **kwargs)
        key = self._hash(regs)
        outputs, updates = self.build_graph(regs)
        labels = sorted(outputs)
        fn = self._compile(('feed_forward', key), self.inputs,
                           [outputs[l] for l in labels], updates)
        return dict(zip(labels, fn(x)))

    def predict(self, x, **kwargs):
        '''Compute the network's output (the last layer's ``out``) for ``x``.'''
        return self.feed_forward(x, **kwargs)[self.layers[-1].output_name]

    def score(self, x, y, w=None, **kwargs):
        '''Weighted coefficient of determination (R^2) of predictions of ``y``.

        ``1 - sum(w (y - yhat)^2) / sum(w (y - mean(y))^2)`` where mean(y) is
        the mean of all values of ``y``; ``w`` defaults to ones.
        '''
        caller = '{}.score'.format(type(self).__name__)
        yhat = self.predict(x, **kwargs)
        y, w = checks.prepare_scored(caller, yhat, y, w)
        u = y - yhat
        v = y - y.mean()
        if w is None:
            w = np.ones_like(u)
        return 1 - (w * u * u).sum() / (w * v * v).sum()

    # ----- training expressions -------------------------------------------

    def _check_losses(self):
        '''Every loss variable must be one of ``variables`` (see add_loss).'''
        by_name = {v.name: v for v in self.variables}
        for loss in self.losses:
            for var in loss.variables:
                if by_name.get(var.name) is not var:
                    raise util.ConfigurationError(
                        '{} on {!r} needs its own {!r} array, but another loss already '
                        'has a data variable named {!r}; pass target= (e.g. the first '
                        "loss's target, model.losses[0].variables[0]) to add_loss".format(
                            type(loss).__name__, loss.output_name, var.name, var.name))

    def loss(self, **kwargs):
        '''The symbolic training loss: weighted losses plus regularizers.

        Parameters
        ----------
        **kwargs
            Regularizers; see :func:`theanets.regularizers.from_kwargs`.
        '''
        self._check_losses()
        regs = regularizers.from_kwargs(self, **kwargs)
        outputs, _ = self.build_graph(regs)
        total = sum(loss.weight * loss(outputs) for loss in self.losses)
        for reg in regs:
            total = total + reg.weight * reg.loss(self.layers, outputs)
        return total

    def monitors(self, **kwargs):
        '''Named symbolic values to report during training.

        The first is ``('err', <first loss>)``. ``monitors=`` (a dict, or a
        list of pairs) maps glob patterns of output or parameter names to
        levels: a number ``v`` gives ``'<name><v'``, the fraction of values
        below ``v``; a list of numbers gives one such monitor each; a dict of
        ``{label: callable}`` gives ``'<name>:<label>'`` = ``callable(expr)``.
        '''
        regs = regularizers.from_kwargs(self, **kwargs)
        outputs, _ = self.build_graph(regs)
        result = [('err', self.losses[0](outputs))]
        spec = kwargs.get('monitors') or {}
        if isinstance(spec, dict):
            spec = list(spec.items())
        for pattern, levels in spec:
            matches = list(util.outputs_matching(outputs, pattern)) + \
                list(util.params_matching(self.layers, pattern))
            for name, expr in matches:
                result.extend(self._level_monitors(name, expr, levels))
        return result

    @staticmethod
    def _level_monitors(name, expr, levels):
        if isinstance(levels, dict):
            levels = list(levels.items())
        if checks.is_number(levels):
            levels = [levels]
        for level in levels:
            if isinstance(level, tuple) and len(level) == 2 and callable(level[1]):
                yield '{}:{}'.format(name, level[0]), level[1](expr)
            elif checks.is_number(level):
                yield '{}<{}'.format(name, level), TT.cast(
                    TT.lt(expr, level), pytensor.config.floatX).mean()
            else:
                raise util.ConfigurationError(
                    'monitor levels for {!r} must be numbers or (label, callable) pairs, '
                    'not {!r}'.format(name, level))

    def updates(self, **kwargs):
        '''Update pairs the graph needs (from recurrent scans; usually empty).'''
        regs = regularizers.from_kwargs(self, **kwargs)
        return self.build_graph(regs)[1]

    # ----- training -------------------------------------------------------

    def itertrain(self, train, valid=None, algo='rmsprop', subalgo='rmsprop',
                  save_every=0, save_progress=None, **kwargs):
        '''Train the network, yielding monitor values after each iteration.

        Parameters
        ----------
        train : list of arrays, Dataset, or callable
            Training data, arrays in the order of :attr:`variables`
            (``[X, y]``, or ``[X]`` for an autoencoder).
        valid : same as train, optional
            Validation data; the training data is used if None.
        algo : str or trainer
            ``'sgd'``, ``'nag'``, ``'rprop'``, ``'rmsprop'``, ``'adagrad'``,
            ``'adadelta'``, ``'esgd'``, ``'adam'``, ``'sample'``,
            ``'layerwise'``, ``'pretrain'``.
        subalgo : str
            Optimizer used by the pretrainers.
        save_every : int or float
            An int saves every that many iterations, a float every that many
            minutes. 0 (the default) saves only when training ends. (The
            original raised ZeroDivisionError for 0.)
        save_progress : str or file, optional
            Where to save; a string is formatted with the Unix time
            (``'model-{}.pkl'``).
        **kwargs
            Optimizer hyper-parameters, batch options, regularizers,
            ``monitors``, ``rng``; see the documentation of ``train``.

        Yields
        ------
        (train_monitors, valid_monitors) : pair of dicts of floats

        Notes
        -----
        Validation runs before every ``validate_every``-th update; training
        stops when ``patience`` validations pass without improvement, when
        ``max_updates`` is reached, on KeyboardInterrupt, or when the loss
        becomes NaN or infinite (with a RuntimeWarning). Then the parameters
        with the best validation loss are restored: as in the original,
        updates made after the last validation are dropped.
        '''
        from . import trainer
        from .downhill import Dataset
        if 'rng' not in kwargs:
            kwargs['rng'] = getattr(self, '_rng', 13)

        if 'algorithm' in kwargs:
            warnings.warn('please use algo= instead of algorithm=', DeprecationWarning,
                          stacklevel=3)
            algo = kwargs.pop('algorithm')
            if isinstance(algo, (list, tuple)):
                algo = algo[0]
        if isinstance(algo, str):
            algo = algo.lower()
            if algo == 'sample':
                algo = trainer.SampleTrainer(self)
            elif algo.startswith('layer') or algo.startswith('sup'):
                algo = trainer.SupervisedPretrainer(
                    trainer.check_algo(subalgo, 'subalgo'), self)
            elif algo.startswith('pre') or algo.startswith('unsup'):
                algo = trainer.UnsupervisedPretrainer(
                    trainer.check_algo(subalgo, 'subalgo'), self)
            else:
                algo = trainer.DownhillTrainer(trainer.check_algo(algo, 'algo'), self)
        elif not callable(getattr(algo, 'itertrain', None)):
            raise util.ConfigurationError(
                'algo must be an algorithm name ({}) or a trainer object with an itertrain '
                'method, not {!r}'.format(', '.join(trainer.algo_names()), algo))

        # The unsupervised pretrainer trains an autoencoder: inputs only.
        pretrain = isinstance(algo, trainer.UnsupervisedPretrainer)
        expected = self._expected_inputs() if pretrain else self._expected_variables()

        def wrap(data, label):
            if data is None or isinstance(data, Dataset):
                return data
            if not callable(data):
                caller = '{}.train ({} data{})'.format(
                    type(self).__name__, label,
                    ", algo='pretrain' trains on the inputs alone" if pretrain else '')
                data = checks.prepare(caller, expected,
                                      data if isinstance(data, (list, tuple)) else [data])
            size = kwargs.get('iteration_size', kwargs.get('{}_batches'.format(label)))
            return Dataset(data, name=label, batch_size=kwargs.get('batch_size', 32),
                           iteration_size=size, axis=kwargs.get('axis', 0), rng=kwargs['rng'])

        train_ds = wrap(train, 'train')
        valid_ds = wrap(valid if valid is not None else train, 'valid')

        saver = trainer.Checkpointer(self, save_every, save_progress)
        kwargs['progress'] = shown = feedback.Progress(
            self, kwargs.get('progress'), kwargs.get('max_updates'))
        for i, monitors in enumerate(shown.watch(algo.itertrain(train_ds, valid_ds, **kwargs))):
            yield monitors
            saver.after_iteration(i)
        saver.at_end()

    def train(self, *args, **kwargs):
        '''Train the network until training stops; arguments as :meth:`itertrain`.

        Returns
        -------
        (train_monitors, valid_monitors) of the last iteration, or None.
        '''
        result = None
        for result in self.itertrain(*args, **kwargs):
            pass
        return result

    # ----- persistence ----------------------------------------------------

    def __getstate__(self):
        return dict(layers=self.layers, losses=self.losses, rng=getattr(self, '_rng', 13))

    def __setstate__(self, state):
        if isinstance(state, tuple):  # (layers, losses), as the original stored it
            state = dict(layers=state[0], losses=state[1])
        self.layers = state['layers']
        self.losses = state['losses']
        self._rng = state.get('rng', 13)
        self._graphs = {}
        self._functions = {}

    def save(self, filename_or_handle, format=None):
        '''Save the network to a path or an open binary file.

        Parameters
        ----------
        filename_or_handle : str, path-like or binary file handle
            Where to save. A path is written atomically: to a temporary file
            in the same folder, then renamed over the target, so a failed
            save never leaves a truncated file in place of a good one. A
            handle is written and left open.
        format : None, ``'pickle'`` or ``'safe'``
            ``'pickle'`` pickles the whole model (a path ending in ``.gz`` is
            compressed); loading a pickle runs code from the file.
            ``'safe'`` writes a numpy ``.npz`` archive of the parameters plus
            a JSON description (see :mod:`theanets.serialize`), which
            :meth:`load` reads without running anything from the file. None
            (the default) means ``'safe'`` if the path (or the handle's
            ``name``) ends in ``.npz`` (any case), else ``'pickle'``.

        Raises
        ------
        ConfigurationError
            For another ``format``, or, with ``'safe'``, for a model part that
            cannot be described in JSON (nothing is written then).

        Examples
        --------
        >>> import os, tempfile
        >>> import theanets
        >>> net = theanets.Regressor([3, 4, 2])
        >>> path = os.path.join(tempfile.mkdtemp(), 'model.npz')
        >>> net.save(path)  # the safe format, from the .npz suffix
        >>> [p.name for p in theanets.Regressor.load(path, allow_pickle=False).params]
        ['hid1.w', 'hid1.b', 'out.w', 'out.b']
        '''
        from . import serialize
        is_handle = hasattr(filename_or_handle, 'write')
        if format is None:
            name = getattr(filename_or_handle, 'name', None) if is_handle else \
                os.fspath(filename_or_handle)
            format = 'safe' if isinstance(name, str) and name.lower().endswith('.npz') \
                else 'pickle'
        if format not in ('pickle', 'safe'):
            raise util.ConfigurationError(
                "save: format must be 'pickle' or 'safe' (or None to choose by the "
                "file's suffix), not {!r}".format(format))
        if format == 'safe':
            serialize.save_safe(self, filename_or_handle)
            return
        if is_handle:
            pickle.dump(self, filename_or_handle, -1)
            util.log('saved model to {}', getattr(filename_or_handle, 'name', 'handle'))
            return
        path = os.fspath(filename_or_handle)

        def write(raw):
            if path.lower().endswith('.gz'):
                with gzip.GzipFile(fileobj=raw, mode='wb') as handle:
                    pickle.dump(self, handle, -1)
            else:
                pickle.dump(self, raw, -1)

        serialize.atomic_write(path, write)
        util.log('saved model to {}', path)

    @classmethod
    def load(cls, filename_or_handle, allow_pickle=True):
        '''Load a network saved with :meth:`save`, in either format.

        The format is told from the file's first bytes: a zip archive is the
        safe format (read by :func:`theanets.serialize.load_safe`, which runs
        nothing from the file); anything else is a pickle (gzip-compressed
        if the path ends in ``.gz``).

        Warning: a pickle can run arbitrary code when loaded. Load pickles
        only from a source you trust; for files from elsewhere use the safe
        format (save with ``format='safe'`` or to a ``.npz`` path) and load
        with ``allow_pickle=False``.

        Parameters
        ----------
        filename_or_handle : str, path-like or binary file handle
            The file to read.
        allow_pickle : bool
            If False, only the safe format is read; a pickle is refused.

        Returns
        -------
        The saved network (of the class it was saved as).

        Raises
        ------
        theanets.util.Error
            If the file is truncated or corrupt; if it is not in the safe
            format and ``allow_pickle`` is False; or if it was written by the
            original Theano-based theanets (those pickles name Theano classes
            and cannot be read without Theano).
        '''
        from . import serialize
        label = serialize.file_label(filename_or_handle)
        safe, source = serialize.is_safe_file(filename_or_handle)
        if safe:
            return serialize.load_safe(source, label=label)
        if not allow_pickle:
            raise util.Error(
                '{} is not in the safe format: it is a pickle (or not a theanets model), and '
                'loading a pickle runs code from the file, so it is refused with '
                'allow_pickle=False. Load it with allow_pickle=True only if it comes from a '
                "source you trust, then re-save it with format='safe'.".format(label))
        if hasattr(source, 'read'):
            return serialize.load_pickle(source, label)
        opener = gzip.open if label.lower().endswith('.gz') else open
        with opener(label, 'rb') as handle:
            model = serialize.load_pickle(handle, label)
        util.log('loaded model from {}', label)
        return model
