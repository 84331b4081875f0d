'''Trainers: the ways a network can be trained.

``Network.itertrain(algo=...)`` picks one: a downhill optimizer name gives a
:class:`DownhillTrainer`; ``'sample'`` a :class:`SampleTrainer`;
``'layerwise'`` a :class:`SupervisedPretrainer`; ``'pretrain'`` an
:class:`UnsupervisedPretrainer`. Each has ``itertrain(train, valid,
**kwargs)`` yielding ``(train_monitors, valid_monitors)`` pairs.
'''

import io
import itertools
import numbers
import os
import time

import numpy as np

from . import checks
from . import downhill
from . import layers
from . import util

__all__ = ['Checkpointer', 'DownhillTrainer', 'SampleTrainer', 'SupervisedPretrainer',
           'UnsupervisedPretrainer', 'algo_names', 'check_algo']

#: Training algorithms of theanets itself, besides the downhill optimizers.
OWN_ALGOS = ('sample', 'layerwise', 'pretrain')


def algo_names(own=True):
    '''Names of the training algorithms: the downhill optimizers (and, if
    ``own``, theanets' own ``sample``, ``layerwise`` and ``pretrain``).

    Examples
    --------
    >>> algo_names(own=False)
    ['adadelta', 'adagrad', 'adam', 'esgd', 'nag', 'rmsprop', 'rprop', 'sgd']
    >>> algo_names()[-3:]
    ['sample', 'layerwise', 'pretrain']
    '''
    names = sorted(k for k in downhill.Optimizer._registry if k != 'optimizer')
    return names + list(OWN_ALGOS) if own else names


def check_algo(name, what='algo'):
    '''Return the downhill optimizer ``name``, lower-cased.

    Parameters
    ----------
    name : str
        An optimizer name, any case (``'Adam'``).
    what : str
        ``'algo'`` or ``'subalgo'``: which argument ``name`` came from (the
        valid choices of ``algo`` include theanets' own algorithms).

    Raises
    ------
    theanets.util.UnknownNameError
        (a KeyError) listing the valid names, before anything is built.
    '''
    if isinstance(name, str) and downhill.Optimizer.is_registered(name):
        return name.lower()
    if what == 'algo':
        raise util.unknown_name('training algorithm', name, algo_names())
    raise util.unknown_name('{} (an optimizer for each stage)'.format(what), name,
                            algo_names(own=False))


class DownhillTrainer:
    '''Train a network with one of the optimizers of :mod:`theanets.downhill`.

    A new optimizer (fresh optimizer state and early-stopping state) is made
    for each call of :meth:`itertrain`.

    Parameters
    ----------
    algo : str
        Optimizer name: sgd, nag, rprop, rmsprop, adagrad, adadelta, esgd, adam.
    network : theanets.graph.Network
        The network to train.
    '''

    def __init__(self, algo, network):
        self.algo = algo
        self.network = network

    def itertrain(self, train, valid=None, **kwargs):
        '''Yield ``(train_monitors, valid_monitors)`` after each iteration.'''
        net = self.network
        opt = downhill.build(
            self.algo,
            loss=net.loss(**kwargs),
            updates=net.updates(**kwargs),
            monitors=net.monitors(**kwargs),
            inputs=net.variables,
            params=net.params,
            monitor_gradients=kwargs.get('monitor_gradients', False))
        yield from opt.iterate(train, valid=valid, **kwargs)


def _column(batch, index):
    '''Array ``index`` of a mini-batch (a bare array is its own column 0).'''
    if isinstance(batch, (tuple, list)):
        return batch[index]
    return batch


class SampleTrainer:
    '''Set weights to samples of the training data (``algo='sample'``).

    Weight matrices of the output layer whose columns match the target width
    become unit-norm target rows; the first weight matrix whose rows match
    the input width becomes unit-norm input rows (as columns). Samples are
    drawn by reservoir sampling with ``rng``. Yields once, with loss 0.

    The target is the loss's target array (the input itself for an
    autoencoder), wherever it sits among the training arrays; integer class
    labels are not used as samples. (The original used the last array, so
    weights or labels could be taken for targets.)
    '''

    def __init__(self, network):
        self.network = network

    @staticmethod
    def reservoir(xs, n, rng):
        '''Draw ``n`` unit-norm samples from the iterable ``xs``.

        Samples of norm zero are skipped. If there are fewer than ``n``
        items, the pool is padded with copies of random items plus Gaussian
        jitter of the pool's standard deviation.
        '''
        pool = []
        seen = 0
        for x in xs:
            norm = np.linalg.norm(x)
            if not norm > 0:
                continue
            x = x / norm
            seen += 1
            if len(pool) < n:
                pool.append(x)
                continue
            j = rng.randint(seen)
            if j < n:
                pool[j] = x
        if not pool:
            raise util.DataError('sample trainer: the training data has no non-zero samples')
        count, std = len(pool), np.std(pool, axis=0)
        while len(pool) < n:
            x = pool[rng.randint(count)]
            pool.append(x + std * rng.randn(*x.shape))
        return np.array(pool, dtype=pool[0].dtype)

    def _columns(self):
        '''Positions of the input and of the (float) target among the arrays.'''
        names = [v.name for v in self.network.variables]
        target = self.network.losses[0].variables[0] if self.network.losses else None
        if target is None or target.dtype.startswith('int') or target.name not in names:
            return 0, None
        return 0, names.index(target.name)

    def itertrain(self, train, valid=None, **kwargs):
        '''Set the weights from ``train`` samples; yield ``({'loss': 0}, {'loss': 0})``.'''
        rng = kwargs.get('rng')
        if rng is None or isinstance(rng, (int, np.integer)):
            rng = np.random.RandomState(rng)
        icol, ocol = self._columns()
        idim = odim = None
        for batch in train:
            idim = _column(batch, icol).shape[-1]
            if ocol is not None:
                odim = _column(batch, ocol).shape[-1]

        if odim is not None:
            samples = itertools.chain.from_iterable(_column(b, ocol) for b in train)
            for param in self.network.layers[-1].params:
                shape = param.get_value(borrow=True).shape
                if len(shape) == 2 and shape[1] == odim:
                    arr = np.vstack(self.reservoir(samples, shape[0], rng))
                    util.log('setting {}: {}', param.name, shape)
                    param.set_value((arr / np.sqrt((arr * arr).sum(axis=1))[:, None])
                                    .astype(param.dtype))

        samples = itertools.chain.from_iterable(_column(b, icol) for b in train)
        for param in self.network.params:
            shape = param.get_value(borrow=True).shape
            if len(shape) == 2 and shape[0] == idim:
                arr = np.vstack(self.reservoir(samples, shape[1], rng)).T
                util.log('setting {}: {}', param.name, shape)
                param.set_value((arr / np.sqrt((arr * arr).sum(axis=0))).astype(param.dtype))
                break  # only the encoding weights see input samples
        yield dict(loss=0), dict(loss=0)


class SupervisedPretrainer:
    '''Train a network layer by layer, growing it one layer per stage.

    Stage i trains the first i hidden layers plus a temporary output: a new
    ``'lwout'`` layer shaped like the real output (or, for a network with
    tied layers, the tied layers mirroring the first i layers); the last
    stage trains the whole network. Each stage runs a
    :class:`DownhillTrainer` with ``algo`` to completion.

    Parameters
    ----------
    algo : str
        The optimizer of each stage.
    network : theanets.graph.Network
        The network to train.
    '''

    def __init__(self, algo, network):
        self.algo = algo
        self.network = network

    def _tail(self, original, i, tied):
        '''The temporary output layer(s) of stage ``i``.'''
        net = self.network
        if tied:
            tail = []
            for j in range(i):
                source = tail[-1] if tail else original[i]
                tail.append(layers.Layer.build(
                    'tied', partner=original[i - j].name, inputs=source.output_name,
                    rng=getattr(net, '_rng', 13)))
            return tail
        out = original[-1]
        return [layers.Layer.build(
            'feedforward', name='lwout', inputs=original[i].output_name,
            size=out.output_size, activation=out.kwargs.get('activation', 'relu'),
            rng=getattr(net, '_rng', 13))]

    def itertrain(self, train, valid=None, **kwargs):
        '''Yield the monitors of every stage in turn.'''
        net = self.network
        original = list(net.layers)
        output_name = net.losses[0].output_name
        tied = any(isinstance(layer, layers.Tied) for layer in original)
        stages = 1 + len(original) // 2 if tied else len(original) - 1
        try:
            for i in range(1, stages):
                tail = [] if i == stages - 1 else self._tail(original, i, tied)
                net.layers = original[:i + 1] + tail if tail else original
                for layer in net.layers:
                    layer.bind(net, initialize=any(layer is t for t in tail))
                net.losses[0].output_name = net.layers[-1].output_name
                util.log('layerwise stage {}/{}: {}', i, stages - 1,
                         ' -> '.join(layer.name for layer in net.layers))
                cached = set(net._graphs), set(net._functions)
                try:
                    yield from DownhillTrainer(self.algo, net).itertrain(train, valid, **kwargs)
                finally:
                    if tail:
                        _forget_new(net, *cached)
        finally:
            net.layers = original
            net.losses[0].output_name = output_name


def _forget_new(net, graphs, functions):
    '''Drop the graphs and functions cached since the key sets were taken.

    A temporary stage's graphs (``[in, hid1, lwout]``) and compiled functions
    are never used again once the stage is over; this frees them.
    '''
    for key in set(net._graphs) - graphs:
        del net._graphs[key]
    for key in set(net._functions) - functions:
        del net._functions[key]


class UnsupervisedPretrainer:
    '''Pretrain a network's hidden layers as a tied autoencoder (``algo='pretrain'``).

    A shadow :class:`theanets.Autoencoder` is built from the network's
    layers (all but the output), mirrored with tied layers (the last one
    linear). It is trained layer by layer on the inputs alone (training
    data ``[X]``), then its parameters are copied into the network's layers
    of the same names.

    Parameters
    ----------
    algo : str
        The optimizer of each stage.
    network : theanets.graph.Network
        The network to pretrain.
    '''

    def __init__(self, algo, network):
        self.algo = algo
        self.network = network

    def itertrain(self, train, valid=None, **kwargs):
        '''Yield the monitors of the shadow autoencoder's training.'''
        from . import feedforward
        net = self.network
        names = set(layer.name for layer in net.layers[:-1])
        specs = [layer.to_spec() for layer in net.layers[:-1]]
        if len(specs) < 2:
            raise util.ConfigurationError(
                'pretrain needs at least one hidden layer; the network has {}'.format(
                    [layer.name for layer in net.layers]))
        for spec in specs[::-1][:-2]:
            specs.append(dict(form='tied', partner=spec['name'], activation=spec['activation']))
        specs.append(dict(form='tied', partner=specs[1]['name'], activation='linear'))
        util.log('pretraining a shadow autoencoder')
        shadow = feedforward.Autoencoder(layers=specs, rng=getattr(net, '_rng', 13))
        yield from SupervisedPretrainer(self.algo, shadow).itertrain(train, valid, **kwargs)
        for param in shadow.params:
            layer, _, suffix = param.name.partition('.')
            if layer in names:
                util.log('copying pretrained parameter {}', param.name)
                net.find(layer, suffix).set_value(param.get_value())


class Checkpointer:
    '''Saves a network during training, as ``save_every``/``save_progress`` say.

    Used by :meth:`theanets.graph.Network.itertrain`.
    '''

    def __init__(self, network, save_every, save_progress):
        self.network = network
        self.every = save_every
        self.target = save_progress
        self.last = time.time()
        self.saved_at = None
        if save_progress is not None and not (checks.is_number(save_every) and
                                              np.isfinite(save_every)):
            raise util.ConfigurationError(
                'save_every must be an int (iterations) or a float (minutes), not {!r}'.format(
                    save_every))
        # Any integer type counts iterations; any other real number, minutes.
        self.minutes = not isinstance(save_every, numbers.Integral)

    def _save(self, i):
        '''Save now. A failed save leaves earlier checkpoints as they were:
        a path is written atomically (by :meth:`Network.save`); for a handle
        the model is serialized in memory first, and a failed write is cut
        off again where the handle allows it.'''
        target = self.target
        if isinstance(target, os.PathLike):
            target = os.fspath(target)
        if isinstance(target, str):
            self.network.save(target.format(int(time.time())))
        else:
            self._save_to_handle(target)
        self.last = time.time()
        self.saved_at = i

    def _save_to_handle(self, handle):
        buffer = io.BytesIO()
        name = getattr(handle, 'name', None)
        if isinstance(name, str):
            buffer.name = name  # save() picks the format from the name
        self.network.save(buffer)
        start = None
        try:
            if handle.seekable():
                start = handle.tell()
        except (AttributeError, OSError, ValueError):
            start = None
        try:
            handle.write(buffer.getvalue())
            if hasattr(handle, 'flush'):
                handle.flush()
        except BaseException:
            if start is not None:
                try:
                    handle.seek(start)
                    handle.truncate()
                except (OSError, ValueError):
                    pass
            raise

    def after_iteration(self, i):
        if self.target is None or i == 0 or self.every <= 0:
            return
        if self.minutes:
            due = (time.time() - self.last) / 60 > self.every
        else:
            due = i % self.every == 0
        if due:
            self._save(i)

    def at_end(self):
        if self.target is not None and self.every <= 0:
            self._save(None)
