"""A short-budget DBN for the 10k subset: does pretraining help at a fixed supervised budget?

``specs/dbn.py`` scaled down to run in minutes on the embedded MNIST subset (8,000
training / 2,000 validation / 10,000 test images): two RBMs of 500 units (CD-1, 3
epochs each at learning rate 0.01, minibatches of 10: the tutorial's settings), then 5
epochs of supervised fine-tuning at learning rate 0.1, minibatches of 10, no early
stopping; the model kept is the best of the 5 validations.

Measured (2-core machine shared with other jobs; test error of the best-validation
model):

| run | test error | best validation | CPU time |
| --- | --- | --- | --- |
| pretrained (this spec) | 6.85% | 7.85% | 83 s |
| no pretraining (``--set pretraining=None``) | 9.24% | 9.70% | 21 s |

    tgraph train specs/short/dbn.py
    tgraph train specs/short/dbn.py --set pretraining=None
"""

from tgraph import layers as L
from tgraph import optim
from tgraph.experiment import Training
from tgraph.pretraining import Pretraining

model = [
    L.Input(shape=(784,)),
    L.RBM(500),
    L.RBM(500),
    L.Dense(10, activation="softmax", init="zeros"),
]
pretraining = Pretraining(epochs=3, optimizer=optim.SGD(learning_rate=0.01), batch_size=10)
optimizer = optim.SGD(learning_rate=0.1)
training = Training(batch_size=10, max_epochs=5, shuffle=False)
seed = 123
