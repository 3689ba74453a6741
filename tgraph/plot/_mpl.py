"""matplotlib, imported on first use with the Agg backend (PNG files, no screen).

matplotlib is an optional extra: ``tgraph.plot`` imports without it, and the first
figure asked for raises a :class:`tgraph.errors.ConfigError` saying how to install it.
"""

from tgraph.errors import ConfigError

__all__ = ["require_matplotlib", "new_figure", "save_figure", "MISSING_MATPLOTLIB", "DPI"]

MISSING_MATPLOTLIB = ("plots need matplotlib, which is not installed; install it with "
                      "`pip install -e '.[plot]'` (or `pip install 'matplotlib>=3.8'`)")
DPI = 100  # pixels per inch of every figure: a (8, 5) inch figure is an 800x500 PNG


def require_matplotlib():
    """Import matplotlib with the Agg backend, or raise the install hint.

    Returns:
        The ``matplotlib`` module.

    Raises:
        ConfigError: matplotlib is not installed.
    """
    try:
        import matplotlib
    except ImportError:
        raise ConfigError(MISSING_MATPLOTLIB) from None
    matplotlib.use("Agg", force=False)
    return matplotlib


def new_figure(width, height):
    """A matplotlib Figure of ``width`` x ``height`` inches (at :data:`DPI`), not
    registered with pyplot, so that nothing is shown and nothing leaks between figures."""
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def save_figure(figure, path):
    """Write ``figure`` as a PNG of exactly its size in pixels; returns ``path``."""
    figure.savefig(path, dpi=DPI, format="png")
    return path
