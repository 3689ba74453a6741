"""A short-budget SdA for the 10k subset: does pretraining help at a fixed supervised budget?

``specs/sda.py`` scaled down to run in minutes on the embedded MNIST subset (8,000
training / 2,000 validation / 10,000 test images): two denoising autoencoders of 500
units (corruption 0.1 and 0.2; 3 epochs each at the tutorial's learning rate 0.001,
minibatches of 1), then 5 epochs of supervised fine-tuning at learning rate 0.1,
minibatches of 1, no early stopping; the model kept is the best of the 5 validations.

Measured (2-core machine shared with other jobs; test error of the best-validation
model):

| run | test error | best validation | CPU time |
| --- | --- | --- | --- |
| pretrained at lr 0.001 (this spec) | 7.61% | 8.40% | 84 s |
| no pretraining (``--set pretraining=None``) | 7.68% | 8.25% | 18 s |
| pretrained at lr 0.01 (``--set pretraining.optimizer.learning_rate=0.01``) | 4.38% | 4.75% | 62 s |

At the tutorial's learning rate, 3 epochs of 8,000 examples (24,000 updates a layer,
against 750,000 in the tutorial) barely move the autoencoders (layer 1's reconstruction
cost 105 -> 74), and the pretrained net ties with the unpretrained one; ten times that
learning rate makes the same budget of pretraining worth 3.3 points of test error.

    tgraph train specs/short/sda.py
    tgraph train specs/short/sda.py --set pretraining=None
    tgraph train specs/short/sda.py --set pretraining.optimizer.learning_rate=0.01
"""

from tgraph import layers as L
from tgraph import optim
from tgraph.experiment import Training
from tgraph.pretraining import Pretraining

model = [
    L.Input(shape=(784,)),
    L.DenoisingAutoencoder(500, corruption=0.1),
    L.DenoisingAutoencoder(500, corruption=0.2),
    L.Dense(10, activation="softmax", init="zeros"),
]
pretraining = Pretraining(epochs=3, optimizer=optim.SGD(learning_rate=0.001), batch_size=1)
optimizer = optim.SGD(learning_rate=0.1)
training = Training(batch_size=1, max_epochs=5, shuffle=False)
seed = 89677
