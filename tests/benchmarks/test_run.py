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


def test_the_markdown_table_has_one_row_per_spec_with_the_ratios():
    from run import markdown

    results = [{"spec": "mlp", "batch_size": 20, "tgraph_samples_per_s": 98174.0,
                "peers": {"torch": 36180.0, "jax": 97037.0}, "best_peer": "jax",
                "ratio_best_peer": 1.0117, "peak_share": 0.3712, "busy_share": 0.9,
                "peers_busy_share": {"jax": 0.75, "torch": 0.4}, "end_to_end_share": 0.61,
                "e2e_torch_ratio": 2.5, "warm_start_s": 1.23, "cold_start_s": 7.81,
                "peak_rss_mb": 238.4},
               {"spec": "logreg", "batch_size": 600, "tgraph_samples_per_s": 671121.0,
                "peers": {}}]
    lines = markdown(results, peers=("torch", "jax")).splitlines()
    assert len(lines) == 4 and lines[1].count("---") == 13
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells == ["mlp", "20", "98,174", "36,180", "97,037", "1.01x (jax)", "0.37",
                     "0.90 (0.75)", "0.61", "2.50", "1.2", "7.8", "238"]
    assert [c.strip() for c in lines[3].strip("|").split("|")][3:6] == ["-", "-", "-"]
