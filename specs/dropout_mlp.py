"""The "modern net" of the Theano tutorials: a rectifier MLP with dropout and RMSprop.

784 -> dropout 0.2 -> 625 relu -> dropout 0.5 -> 625 relu -> dropout 0.5 -> 10 softmax.

Hyperparameters from Alec Radford's Theano-Tutorials ``5_modern_net.py`` (the dropout +
RMSprop net that followed the deeplearning.net tutorials): weights drawn from
Normal(0, 0.01), no biases, dropout 0.2 on the input and 0.5 on each hidden layer
(Srivastava et al. 2014), RMSprop with learning rate 0.001, rho 0.9, epsilon 1e-6,
minibatches of 128, 100 epochs. The tutorial shuffles nothing and trains the full 100
epochs; tgraph keeps the best-validation model. On the 8k-image subset of mnist_10k.npz
the PyTorch twin reaches 3.32% test error (REFERENCE.md).
"""

from tgraph import layers as L
from tgraph import optim
from tgraph.experiment import Training
from tgraph.init import Normal

model = [
    L.Input(),  # the shape of the data's examples: (784,) for MNIST
    L.Dropout(0.2),
    L.Dense(625, activation="relu", use_bias=False, init=Normal(std=0.01)),
    L.Dropout(0.5),
    L.Dense(625, activation="relu", use_bias=False, init=Normal(std=0.01)),
    L.Dropout(0.5),
    L.Dense("classes", activation="softmax", use_bias=False, init=Normal(std=0.01)),
]
loss = "nll"
optimizer = optim.RMSprop(learning_rate=0.001, rho=0.9, epsilon=1e-6)
training = Training(batch_size=128, max_epochs=100, shuffle=False)
