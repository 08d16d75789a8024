"""The portfolio study's results as Ray tasks (`run_portfolio_study(workers=2)`) are the results it computes in this
process, and a rerun skips them: the same `run_ray_tasks` loop as the single-instrument study."""
import numpy as np
import pandas as pd

from algobot.portfolio_study import run_portfolio_study
from algobot.study import Leaderboard


def universe(bars=1400, n=5, seed=0):
    "Closes of `n` synthetic assets (log-normal walks), one a business day."
    rng = np.random.default_rng(seed)
    closes = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.012, (bars, n)), axis=0))
    return pd.DataFrame(closes, index=pd.bdate_range("2010-01-04", periods=bars), columns=[f"A{i}" for i in range(n)])


def test_results_on_ray_equal_the_in_process_ones(tmp_path, scratch_settings):
    prices, names = universe(), ["crp", "ubah", "inverse_vol", "canary"]
    here = run_portfolio_study(prices, Leaderboard(tmp_path / "here.csv"), n_folds=2, contestants=names, progress=False)
    ray_board = run_portfolio_study(prices, Leaderboard(tmp_path / "ray.csv"), n_folds=2, contestants=names, workers=2,
                                    progress=False)
    key = ["contestant", "task", "seed", "fold"]
    a, b = (x.frame().sort_values(key).reset_index(drop=True) for x in (here, ray_board))
    assert len(a) == 2 * len(names)
    pd.testing.assert_frame_equal(a, b)
    for k in a[key].itertuples(index=False):
        pd.testing.assert_series_equal(here.returns(tuple(k)), ray_board.returns(tuple(k)))
    again = run_portfolio_study(prices, Leaderboard(tmp_path / "ray.csv"), n_folds=2, contestants=names, workers=2,
                                progress=False)
    assert len(again) == len(b)   # nothing recomputed or added twice
