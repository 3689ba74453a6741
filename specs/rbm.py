"""A restricted Boltzmann machine of 500 hidden units trained with PCD-15 on MNIST (no labels).

Hyperparameters from the deeplearning.net tutorial "Restricted Boltzmann Machines"
(``rbm.py``, ``test_rbm``): 784 binary visible and 500 binary hidden units, persistent
contrastive divergence with 15 Gibbs steps a update (PCD-15, Tieleman 2008), SGD at
learning rate 0.1 on minibatches of 20, 15 epochs, no shuffling; weights uniform on
±4 sqrt(6 / (784 + 500)), biases at zero. The monitor is the tutorial's stochastic
pseudo-likelihood cost (``pseudo_likelihood_cost``: the negative of the value the
tutorial prints, one bit flipped a update). After training, 20 Gibbs chains start at
consecutive test images and are sampled 10 times, 1000 Gibbs steps apart.

``training = None``: ``tgraph train`` only pretrains. The run directory gets
``filters_layer1.png`` (the first 100 filters), ``samples.png`` (one row per sample,
one column per chain), ``model.tgraph`` and ``metrics.json`` (the phase's time and
final monitor value; no test error: the model has no classifier).

    tgraph train specs/rbm.py
    tgraph train specs/rbm.py --set pretraining.samples.steps=100   # quicker samples
"""

from tgraph import layers as L
from tgraph import optim
from tgraph.pretraining import Pretraining, RBMSamples

model = [
    L.Input(shape=(784,)),
    L.RBM(500, k=15, persistent=True),
]
pretraining = Pretraining(epochs=15, optimizer=optim.SGD(learning_rate=0.1), batch_size=20,
                          samples=RBMSamples(chains=20, rows=10, steps=1000))
training = None
seed = 123  # the tutorial's numpy.random.RandomState(123)
