"""The stacked denoising autoencoders of specs/sda.py on minibatches of 10: the full-MNIST run.

The network, corruption levels, costs, initialisation, epochs and early-stopping rule
are the tutorial's (``SdA.py``, see ``specs/sda.py``); only the minibatches differ. The
tutorial pretrains and fine-tunes on minibatches of 1: 2.25 million pretraining updates
and 50,000 fine-tuning updates an epoch, which took it 585 + 444 min, and a batch-1 step
here costs ~2.5 ms (a pass over the 3 MB weight matrix per product: memory-bound), so
the tutorial's schedule would take hours on 2 cores. Here both stages use minibatches of
10, with both learning rates scaled by the same factor, so that each example moves the
weights as much as in the tutorial: pretraining 0.001 per example -> 0.01 on a mean
over 10, fine-tuning 0.1 -> 1.0; patience stays 10 epochs of minibatches (50,000 of
them). Published (batch 1): 1.3% test error, best validation 1.39%.

Fine-tuning at 0.1 instead (the DBN tutorial's rate for minibatches of 10) makes each
epoch a tenth of the tutorial's: on the embedded 10k subset, 25 fine-tuning epochs reach
a best validation error of 5.40% (test 4.25%) at 0.1 and 4.10% (test 3.70%) at 1.0.

    tgraph train specs/sda_minibatch.py --data ../shared/data/mnist-idx --valid-size 10000

Measured on the 2-core machine (shared with other jobs): 1.30% test error, best
validation 1.36% at fine-tuning epoch 44 of 88, in 53.6 min (13.4 min pretraining, 39.1
fine-tuning). Fine-tuning at 0.1 instead, the best validation error was 1.57% at epoch
46 (1.55% test) and 1.46% at epoch 90 (1.53% test), where that run was interrupted.
"""

from sda import loss, model, seed  # noqa: F401  (specs/sda.py: the network, unchanged)

from tgraph import optim
from tgraph.callbacks import TutorialPatience
from tgraph.experiment import Training
from tgraph.pretraining import Pretraining

pretraining = Pretraining(epochs=15, optimizer=optim.SGD(learning_rate=0.01), batch_size=10)
optimizer = optim.SGD(learning_rate=1.0)  # the tutorial's 0.1 per example, on a mean over 10
training = Training(batch_size=10, max_epochs=1000, shuffle=False)
callbacks = [TutorialPatience(patience=50000, patience_increase=2, improvement_threshold=0.995)]
