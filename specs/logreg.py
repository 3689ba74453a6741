"""Multiclass logistic regression on MNIST (softmax regression, 784 -> 10).

Hyperparameters from the deeplearning.net tutorial "Classifying MNIST digits using
Logistic Regression" (``logistic_sgd.py``, ``sgd_optimization_mnist``): weights and biases
initialised to zero, plain SGD with learning rate 0.13, minibatches of 600, at most 1000
epochs, the tutorial's early stopping (patience 5000 minibatches, patience_increase 2,
improvement_threshold 0.995), no shuffling. Full-MNIST result: 7.489% test error; on the
8k-image training subset of mnist_10k.npz the PyTorch twin reaches 9.42% (REFERENCE.md).
"""

from tgraph import layers as L
from tgraph import optim
from tgraph.callbacks import TutorialPatience
from tgraph.experiment import Training

model = [
    L.Input(),  # the shape of the data's examples: (784,) for MNIST
    L.Dense("classes", activation="softmax", init="zeros", bias_init="zeros"),
]
loss = "nll"
optimizer = optim.SGD(learning_rate=0.13)
training = Training(batch_size=600, max_epochs=1000, shuffle=False)
callbacks = [TutorialPatience(patience=5000, patience_increase=2, improvement_threshold=0.995)]
