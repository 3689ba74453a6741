"""What holds inside every compiled call of a Model (its steps, predict, evaluate)."""

__all__ = ["seen_in_compiled_calls"]


def seen_in_compiled_calls(model, mnist, probe):
    """``probe()`` evaluated inside each compiled call of one train_step, one train_steps
    of 2 steps (one call), a predict and an evaluate of 30 examples in batches of 10 (3
    calls each): a list of 8 values, in call order."""
    x, y = mnist["test"][0][:30], mnist["test"][1][:30]
    model.train_steps(0, 1, 20)  # compiles the functions
    model.predict(x), model.evaluate(x, y)
    seen, functions = [], model._functions
    originals = dict(functions)

    def recording(fn):
        def call(*args):
            seen.append(probe())
            return fn(*args)
        return call

    functions.update({key: recording(fn) for key, fn in originals.items()})
    try:
        model.train_step(0, 20)
        model.train_steps(1, 2, 20)
        model.predict(x, batch_size=10)
        model.evaluate(x, y, batch_size=10)
    finally:
        functions.update(originals)
    return seen
