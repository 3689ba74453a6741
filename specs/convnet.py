"""The dropout convnet of the Theano tutorials: three 3x3 convolution stages and a
rectifier layer, with dropout and RMSprop.

(1, 28, 28) -> 32 kernels 3x3 'full' (30x30) -> 2x2 max-pool (15) -> relu -> dropout 0.2
-> 64 kernels 3x3 (13) -> max-pool (7) -> relu -> dropout 0.2 -> 128 kernels 3x3 (5)
-> max-pool (3) -> relu -> dropout 0.2 -> 625 relu -> dropout 0.5 -> 10 softmax.

Hyperparameters from Alec Radford's Theano-Tutorials ``5_convolutional_net.py``: weights
drawn from Normal(0, 0.01), no biases, ``conv2d(border_mode='full')`` for the first
stage, ``max_pool_2d`` with Theano's old default ``ignore_border=False`` (sizes rounded
up: 30 -> 15, 13 -> 7, 5 -> 3), dropout 0.2 after each pooling stage and 0.5 after the
hidden layer (Srivastava et al. 2014), RMSprop with learning rate 0.001, rho 0.9,
epsilon 1e-6, minibatches of 128, 100 epochs, no shuffling. The tutorial applies the
rectifier before pooling; max-pooling commutes with it, so tgraph pools first (4x fewer
values to rectify).

Training runs the tutorial's 100 epochs; ``tgraph train`` keeps the best-validation model
and reports its test error. Measured on mnist_10k.npz (8k/2k/official 10k test, seed 1234):
100 epochs reach 1.43% test error (best validation 1.55% at epoch 62, 217 s); an
epoch patience of 10 on the validation error (``EarlyStopping(monitor="valid_error",
patience=10)``, add it to ``callbacks`` for a quick run) stops at epoch 43 with 1.69%:
the validation error of 2,000 images swings by 0.5% between epochs of this RMSprop run
and a 10-epoch patience ends it in a swing. The PyTorch twin of REFERENCE.md reaches 1.32%.
"""

from tgraph import layers as L
from tgraph import optim
from tgraph.experiment import Training
from tgraph.init import Normal

INIT = Normal(std=0.01)


def _stage(filters, padding="valid"):
    """Convolution, 2x2 max-pool (Theano's rounding up), relu, dropout 0.2."""
    return [
        L.Conv2D(filters, 3, padding=padding, use_bias=False, init=INIT),
        L.MaxPool2D(2, ignore_border=False),
        L.Activation("relu"),
        L.Dropout(0.2),
    ]


model = [
    L.Input(shape=(1, 28, 28)),
    *_stage(32, padding="full"),
    *_stage(64),
    *_stage(128),
    L.Flatten(),
    L.Dense(625, activation="relu", use_bias=False, init=INIT),
    L.Dropout(0.5),
    L.Dense(10, activation="softmax", use_bias=False, init=INIT),
]
loss = "nll"
optimizer = optim.RMSprop(learning_rate=0.001, rho=0.9, epsilon=1e-6)
training = Training(batch_size=128, max_epochs=100, shuffle=False)
callbacks = []  # all 100 epochs, as the tutorial; the best-validation model is kept
