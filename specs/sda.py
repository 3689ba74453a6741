"""Stacked denoising autoencoders on MNIST: three dAs of 1000 sigmoid units, fine-tuned as an MLP.

Hyperparameters from the deeplearning.net tutorial "Stacked Denoising Autoencoders"
(``SdA.py``, ``test_SdA``): hidden layers of 1000, 1000 and 1000 sigmoid units, each a
tied-weight denoising autoencoder with masking corruption 0.1, 0.2 and 0.3 and the
cross-entropy reconstruction cost, pretrained for 15 epochs at learning rate 0.001 on
minibatches of 1 (the lower layers' codes as its data), then the stack with a softmax
layer on top (initialised to zero) fine-tuned by SGD at learning rate 0.1 on minibatches
of 1, at most 1000 epochs, with the tutorial's early stopping: patience 10 epochs of
minibatches (500,000 on the full MNIST), patience_increase 2, improvement_threshold
0.995; no shuffling. Weights start uniform on ±4 sqrt(6 / (n_in + n_out)), biases at
zero. Published on the full MNIST: 1.3% test error (best validation 1.39%, 36
supervised epochs), 585 min pretraining + 444 min fine-tuning.

    tgraph summary specs/sda.py
    tgraph train specs/sda.py                              # the embedded 8k/2k/10k subset
    tgraph train specs/sda.py --data ../shared/data/mnist-idx   # the full MNIST
"""

from tgraph import layers as L
from tgraph import optim
from tgraph.callbacks import TutorialPatience
from tgraph.experiment import Training
from tgraph.pretraining import Pretraining

model = [
    L.Input(shape=(784,)),
    L.DenoisingAutoencoder(1000, corruption=0.1),
    L.DenoisingAutoencoder(1000, corruption=0.2),
    L.DenoisingAutoencoder(1000, corruption=0.3),
    L.Dense(10, activation="softmax", init="zeros"),
]
pretraining = Pretraining(epochs=15, optimizer=optim.SGD(learning_rate=0.001), batch_size=1)
loss = "nll"
optimizer = optim.SGD(learning_rate=0.1)
training = Training(batch_size=1, max_epochs=1000, shuffle=False)
callbacks = [TutorialPatience(patience=500000, patience_increase=2, improvement_threshold=0.995)]
seed = 89677  # the tutorial's numpy.random.RandomState(89677)
