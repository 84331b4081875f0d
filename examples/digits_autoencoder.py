#!/usr/bin/env python
'''Train a tied autoencoder on scikit-learn's handwritten digits.

The 8x8 digit images (1797 of them, shipped with scikit-learn) are scaled to
[0, 1], split into training, validation and test sets, and compressed to 32
numbers by an autoencoder whose decoder reuses the encoder's weights. The
script shows training progress and prints how well held-out digits are
reconstructed (R^2), then how well a classifier does on the learned codes.

Usage::

    python examples/digits_autoencoder.py [--fast] [--algo adam] [--hidden 32]
'''

import argparse
import logging
import time

import numpy as np
from sklearn.datasets import load_digits

import theanets


def load(seed=0):
    '''Digits scaled to [0, 1] (float32) and labels, split 1200/300/rest.'''
    digits = load_digits()
    order = np.random.RandomState(seed).permutation(len(digits.data))
    x = (digits.data[order] / 16).astype('float32')
    y = digits.target[order].astype('int32')
    return (x[:1200], y[:1200]), (x[1200:1500], y[1200:1500]), (x[1500:], y[1500:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--algo', default='adam', help='optimizer (default adam)')
    parser.add_argument('--hidden', type=int, default=32, help='code size (default 32)')
    parser.add_argument('--fast', action='store_true', help='a few updates only (for tests)')
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s', datefmt='%H:%M:%S')
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = load()
    # Early stopping keeps the best *validated* parameters, so the fast mode
    # validates after every update.
    schedule = dict(max_updates=10, validate_every=1) if args.fast else \
        dict(max_updates=300, validate_every=5)

    start = time.time()
    model = theanets.Autoencoder([64, (args.hidden, 'relu'), (64, 'tied')])
    model.train([train_x], [valid_x], algo=args.algo, learning_rate=1e-2, batch_size=32,
                patience=5, **schedule)
    r2 = model.score(test_x)

    clf = theanets.Classifier([args.hidden, 10])
    clf.train([model.encode(train_x), train_y], [model.encode(valid_x), valid_y],
              algo=args.algo, learning_rate=1e-2, batch_size=32, patience=5, **schedule)
    acc = clf.score(model.encode(test_x), test_y)

    print('autoencoder {}: R^2 of reconstructing {} held-out digits = {:.3f}'.format(
        [64, args.hidden, 64], len(test_x), r2))
    print('classifier on the {}-number codes: accuracy on held-out digits = {:.3f}'.format(
        args.hidden, acc))
    print('total time {:.1f} s'.format(time.time() - start))
    return r2, acc


if __name__ == '__main__':
    main()
