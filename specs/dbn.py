"""Deep belief net on MNIST: three RBMs of 1000 units, greedily pretrained, fine-tuned as an MLP.

Hyperparameters from the deeplearning.net tutorial "Deep Belief Networks" (``DBN.py``,
``test_DBN``): hidden layers of 1000, 1000 and 1000 binary units, each an RBM trained
with CD-1 for 100 epochs at learning rate 0.01 on minibatches of 10 (the lower layers'
mean activations as its data), then the stack with a softmax layer on top (initialised
to zero) fine-tuned as a sigmoid MLP by SGD at learning rate 0.1 on minibatches of 10,
at most 1000 epochs, with the tutorial's early stopping: patience 4 epochs of
minibatches (20,000 on the full MNIST's 5,000 minibatches of 10), patience_increase 2,
improvement_threshold 0.995; no shuffling. RBM weights start uniform on
±4 sqrt(6 / (n_in + n_out)), biases at zero. Published on the full MNIST: 1.34% test
error (best validation 1.27%, 46 supervised epochs), 615 min pretraining + 101 min
fine-tuning.

    tgraph summary specs/dbn.py
    tgraph train specs/dbn.py                              # the embedded 8k/2k/10k subset
    tgraph train specs/dbn.py --data ../shared/data/mnist-idx --valid-size 10000  # full MNIST

On the full MNIST tgraph reached 1.26% test error at the best validation error, 1.26%
(fine-tuning epoch 161; 1.35% at validation 1.29% by epoch 36), with 47 min of
pretraining and 49 min of fine-tuning on the 2-core machine; the patience rule kept
extending the run, which was stopped at epoch 162 (README, "Reproducing the tutorials").
With 30 pretraining epochs a layer (``--set pretraining.epochs=30``) it reached 1.56%.

The run writes ``filters_layer1.png`` (the first RBM's filters) and reports each
phase's time and final reconstruction cross-entropy in ``metrics.json``.
"""

from tgraph import layers as L
from tgraph import optim
from tgraph.callbacks import TutorialPatience
from tgraph.experiment import Training
from tgraph.pretraining import Pretraining

model = [
    L.Input(shape=(784,)),
    L.RBM(1000, k=1),
    L.RBM(1000, k=1),
    L.RBM(1000, k=1),
    L.Dense(10, activation="softmax", init="zeros"),
]
pretraining = Pretraining(epochs=100, optimizer=optim.SGD(learning_rate=0.01), batch_size=10)
loss = "nll"
optimizer = optim.SGD(learning_rate=0.1)
training = Training(batch_size=10, max_epochs=1000, shuffle=False)
callbacks = [TutorialPatience(patience=20000, patience_increase=2, improvement_threshold=0.995)]
seed = 123  # the tutorial's numpy.random.RandomState(123)
