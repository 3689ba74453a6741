"""A dummy model that replays scripted validation errors, to drive the trainer."""

import numpy as np

from tgraph import optim


class ScriptedModel:
    """Quacks like tgraph.Model; ``evaluate`` returns the next scripted value.

    Args:
        valid_errors: the validation errors to return, in order.
        test_error: what evaluation on the test split returns.
    """

    def __init__(self, valid_errors, test_error=0.5):
        self.valid_errors = list(valid_errors)
        self.test_error = test_error
        self.evaluations = []
        self.optimizer = optim.SGD(learning_rate=0.1)
        self.weights = {"w": np.zeros(1)}
        self.steps = 0

    def check_data(self, x, y):
        return np.asarray(x), np.asarray(y)

    def set_train_data(self, x, y):
        self.train_x = x

    def train_function(self, batch_size):
        def step(i):
            self.steps += 1
            self.weights = {"w": np.array([float(self.steps)])}
            return np.float32(1.0 / self.steps)
        return step

    def evaluate(self, x, y):
        if len(x) == 1:  # the test split
            self.evaluations.append("test")
            return {"loss": 1.0, "error": self.test_error}
        self.evaluations.append("valid")
        value = self.valid_errors.pop(0)
        return {"loss": value, "error": value}

    def get_weights(self):
        return dict(self.weights)

    def set_weights(self, weights):
        self.weights = dict(weights)

    def get_state(self):
        return {"arrays": {}, "rng": {}, "lr": 0.1}

    def set_state(self, state):
        pass


def data(n_train):
    """A dataset of ``n_train`` training examples, 2 validation, 1 test."""
    return {"train": (np.zeros((n_train, 1)), np.zeros(n_train)),
            "valid": (np.zeros((2, 1)), np.zeros(2)), "test": (np.zeros((1, 1)), np.zeros(1))}
