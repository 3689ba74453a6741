"""``tgraph plot RUN_DIR [RUN_DIR ...] [--out DIR]``."""

__all__ = ["add_plot_parser", "run_plot"]


def add_plot_parser(sub, epilog=None):
    """Register the ``plot`` subcommand on the ``tgraph`` subparsers ``sub``."""
    p = sub.add_parser(
        "plot", help="draw a run's curves, weights, confusion matrix, mistakes", epilog=epilog,
        description="Write PNG figures of training runs: learning curves (several runs on one "
                    "figure), the first layer's weights as images, the test-set confusion "
                    "matrix and the most confidently wrong test images. Needs matplotlib "
                    "(pip install -e '.[plot]').")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="output directory of `tgraph train`")
    p.add_argument("--out", metavar="DIR", help="where the PNG files go (default RUN_DIR/plots; "
                   "with several runs: plots/, a folder per run plus the compared curves)")
    p.add_argument("--data", metavar="PATH", help="dataset of the test-set figures "
                   "(default: the run's)")
    p.set_defaults(run=run_plot)
    return p


def run_plot(args):
    from tgraph.plot import write_plots

    for path in write_plots(args.runs, args.out, data=args.data):
        print(path)
