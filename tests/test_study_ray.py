"""`run_study` with `workers=2` on embedded Ray (19_study, "On Ray"): the leaderboard and per-bar returns equal the
study run in this process; a rerun computes only the missing rows; a result that fails on a worker is printed with
its key and the worker's traceback and raised naming the key, while the good rows stay and a rerun completes the
board. Here rather than in the notebook: starting Ray and its worker processes costs the pipeline's quick run ~20 s."""
import contextlib, io, re

import pandas as pd
import pytest

from algobot.contestants import baselines
from algobot.study import RESULT_KEY, Leaderboard, run_study
from algobot.tasks import TradingTask, synthetic_tasks


@pytest.fixture
def ray_down():
    "Ray is stopped after the test (`run_study(workers=2)` starts it), even on failure."
    import ray
    yield
    ray.shutdown()


def refusing(inner, bad):
    "A contestant that is `inner` but raises on the (seed, fold) pairs in `bad` (a local class: Ray ships it by value)."
    class Refuse:
        def __init__(self, inner, bad): self.inner, self.bad = inner, set(bad)
        def __call__(self, task, env, seed):
            if (seed, getattr(task, "fold_index", 0)) in self.bad: raise ValueError(f"boom on seed {seed}, fold {task.fold_index}")
            return self.inner(task, env, seed)
    return Refuse(inner, bad)


def ordered(board: Leaderboard) -> pd.DataFrame:
    return board.frame().sort_values(list(RESULT_KEY)).reset_index(drop=True)


def test_study_on_ray_equals_the_study_in_this_process(tmp_path, scratch_settings, ray_down):
    import ray
    syn, field = TradingTask(synthetic_tasks(1, 1500, seed=3)[0]), baselines()
    few = {n: field[n] for n in ("buy_and_hold", "random")}
    one, par = Leaderboard(tmp_path / "one.csv"), Leaderboard(tmp_path / "par.csv")
    run_study(few, [syn], one, seeds=(0, 1), n_folds=2)                            # in this process, no Ray
    assert not ray.is_initialized()
    run_study(few, [syn], par, seeds=(0, 1), n_folds=2, workers=2)                 # 8 Ray tasks, 2 at a time
    assert ray.is_initialized()
    # the same leaderboard, as read back from disk, and the same per-bar returns
    pd.testing.assert_frame_equal(ordered(Leaderboard(par.path)), ordered(one), check_dtype=False)
    for key in one.frame()[list(RESULT_KEY)].itertuples(index=False):
        pd.testing.assert_series_equal(par.returns(tuple(key)), one.returns(tuple(key)))

    # resumable: with the seed-0 rows stored, only seed 1 runs (a contestant that fails on seed 0 would stop it)
    half = Leaderboard(tmp_path / "half.csv")
    for key in one.frame().query("seed == 0")[list(RESULT_KEY)].itertuples(index=False):
        half.add(one.row(tuple(key)), one.returns(tuple(key)))
    run_study({n: refusing(c, [(0, 0), (0, 1)]) for n, c in few.items()}, [syn], half, seeds=(0, 1), n_folds=2, workers=2)
    pd.testing.assert_frame_equal(ordered(Leaderboard(half.path)), ordered(one), check_dtype=False)

    # a failing result: printed with its key and the worker's traceback, raised naming the key; the good rows stay
    bad, err = ("boom", syn.name, 1, 1), io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(RuntimeError, match=re.escape(f"study result {bad} failed on a Ray worker")):
        run_study({"boom": refusing(field["flat"], [(1, 1)])}, [syn], Leaderboard(tmp_path / "boom.csv"), seeds=(0, 1),
                  n_folds=2, workers=2)
    printed = err.getvalue()
    assert f"study result {bad} failed on a Ray worker" in printed and "ValueError: boom on seed 1, fold 1" in printed, printed
    assert "_fit_and_test" in printed and "in __call__" in printed, printed   # the remote traceback
    kept = Leaderboard(tmp_path / "boom.csv")
    assert not kept.has(bad) and len(kept) < 4
    run_study({"boom": field["flat"]}, [syn], kept, seeds=(0, 1), n_folds=2, workers=2)   # a rerun completes it
    assert len(Leaderboard(kept.path)) == 4
