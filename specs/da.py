"""A denoising autoencoder of 500 units on MNIST, corruption 0.3 (no labels).

Hyperparameters from the deeplearning.net tutorial "Denoising Autoencoders" (``dA.py``,
``test_dA``): 784 inputs, 500 sigmoid hidden units, tied weights, masking corruption
0.3 (the tutorial also trains one at 0: ``--set model.1.corruption=0``), cross-entropy
reconstruction cost, SGD at learning rate 0.1 on minibatches of 20, 15 epochs, no
shuffling; weights uniform on ±4 sqrt(6 / (784 + 500)), biases at zero.

``training = None``: ``tgraph train`` only pretrains. The run directory gets
``filters_layer1.png`` (the first 100 filters, as the tutorial's
``filters_corruption_30.png``), ``model.tgraph`` and ``metrics.json`` (the phase's time
and final ``reconstruction_cost``; no test error: the model has no classifier).

    tgraph train specs/da.py
    tgraph train specs/da.py --set model.1.corruption=0 --out runs/da-0
"""

from tgraph import layers as L
from tgraph import optim
from tgraph.pretraining import Pretraining

model = [
    L.Input(shape=(784,)),
    L.DenoisingAutoencoder(500, corruption=0.3),
]
pretraining = Pretraining(epochs=15, optimizer=optim.SGD(learning_rate=0.1), batch_size=20)
training = None
seed = 123  # the tutorial's numpy.random.RandomState(123)
