"""The benchmark's command line and table: the busy-machine and end-to-end figures are
columns, and impossible --busy values are refused before anything runs."""

import sys

import pytest
from support.paths import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

from run import main, table  # noqa: E402


def test_the_table_shows_busy_share_and_end_to_end_share():
    result = {"spec": "mlp", "batch_size": 20, "tgraph_samples_per_s": 98174.0,
              "peers": {"jax": 97037.0}, "busy_share": 0.4567, "end_to_end_share": 0.8612}
    header, _, row = table([result], peers=("jax",)).splitlines()
    cells = dict(zip(header.split(), row.split()))
    assert cells["busy_share"] == "0.46" and cells["end_to_end_share"] == "0.86"
    assert cells["tgraph_samples_per_s"] == "98,174" and cells["jax"] == "97,037"


@pytest.mark.parametrize("argv, bad", [(["--busy", "-1"], "--busy (=-1)"),
                                       (["--busy-rounds", "0"], "--busy-rounds (=0)")])
def test_impossible_busy_options_are_refused(argv, bad, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and bad in capsys.readouterr().err
