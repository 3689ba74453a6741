"""The tanh multilayer perceptron on MNIST (784 -> 500 tanh -> 10 softmax).

Hyperparameters from the deeplearning.net tutorial "Multilayer Perceptron" (``mlp.py``,
``test_mlp``): hidden weights uniform in +-sqrt(6 / (n_in + n_out)) (Glorot & Bengio 2010),
output layer initialised to zero as in the tutorial's LogisticRegression layer, zero biases,
SGD with learning rate 0.01, minibatches of 20, L1 0 and L2 1e-4 on both weight matrices,
at most 1000 epochs, early stopping with patience 10000 minibatches (patience_increase 2,
improvement_threshold 0.995), no shuffling. Full-MNIST result: 1.65% test error (best
validation 1.69%, epoch 828); on the 8k-image subset the tutorial algorithm reaches 5.27%
(REFERENCE.md). tgraph on the full MNIST (``--data ../shared/data/mnist-idx
--valid-size 10000``): 1.63% test error at the best validation error, 1.68% (epoch 747 of
1000; README, "Reproducing the tutorials"). The hidden weights
are drawn as the tutorial draws them, from ``numpy.random.RandomState(1234)``
(``legacy_init``). Measured with ``tgraph train specs/mlp.py``: 5.27% test error at the
best validation error (6.60%, epoch 797 of 1000), 186 s.
"""

from tgraph import layers as L
from tgraph import optim
from tgraph.callbacks import TutorialPatience
from tgraph.experiment import Training

model = [
    L.Input(),  # the shape of the data's examples: (784,) for MNIST
    L.Dense(500, activation="tanh", init="glorot_uniform", l2=1e-4),
    L.Dense("classes", activation="softmax", init="zeros", l2=1e-4),
]
loss = "nll"
optimizer = optim.SGD(learning_rate=0.01)
training = Training(batch_size=20, max_epochs=1000, shuffle=False)
callbacks = [TutorialPatience(patience=10000, patience_increase=2, improvement_threshold=0.995)]
# The tutorial's initial weights: numpy.random.RandomState(1234) (the default seed).
legacy_init = True
