"""A text table of a network's layers, output shapes and parameter counts (like Keras)."""

from tgraph.network import infer_shapes

__all__ = ["summary"]


def _shape(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _describe(layer):
    kind = type(layer).__name__
    act = getattr(layer, "activation", None)
    extra = f", {act}" if act and kind != "Activation" else (f" {act}" if act else "")
    return (f"{kind}{extra}" + (f" '{layer.name}'" if layer.name else ""))


def _count(layer, input_shape):
    if input_shape is None:
        return 0
    total = 0
    for spec in layer.param_specs(input_shape):
        n = 1
        for d in spec.shape:
            n *= d
        total += n
    return total


def summary(specs):
    """Summary table of a spec list (or a built network's specs).

    Args:
        specs: a list of layer specs, or any object with a ``specs`` attribute.

    Returns:
        A multi-line string: one row per layer with index, type, output shape and
        number of parameters, then the total.
    """
    specs = getattr(specs, "specs", specs)
    shapes = infer_shapes(specs)
    rows = [("#", "layer", "output shape", "params")]
    total = 0
    for i, layer in enumerate(specs):
        n = _count(layer, shapes[i - 1] if i else None)
        total += n
        rows.append((str(i), _describe(layer), _shape(shapes[i]), f"{n:,}"))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    line = "  ".join("-" * w for w in widths)
    fmt = lambda r: "  ".join(  # noqa: E731
        r[c].rjust(widths[c]) if c in (0, 3) else r[c].ljust(widths[c]) for c in range(4))
    body = [fmt(rows[0]), line, *(fmt(r) for r in rows[1:]), line]
    return "\n".join([*body, f"total parameters: {total:,}"])
