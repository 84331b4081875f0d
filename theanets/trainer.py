'''Trainers: the ways a network can be trained.

``Network.itertrain(algo=...)`` picks one: a downhill optimizer name gives a
:class:`DownhillTrainer`; ``'sample'`` a :class:`SampleTrainer`;
``'layerwise'`` a :class:`SupervisedPretrainer`; ``'pretrain'`` an
:class:`UnsupervisedPretrainer`.
'''

from . import downhill

__all__ = ['DownhillTrainer']


class DownhillTrainer:
    '''Train a network with one of the optimizers of :mod:`theanets.downhill`.

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
