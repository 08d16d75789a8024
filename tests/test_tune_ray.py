"""`tune(workers=2)` and `algobot-tune --workers 2` on embedded Ray (06a_tune, "In parallel, on Ray"): trials numbered
once each and none lost, resumed across runs, a trial cut short not counted, a trial failing in its worker printed,
raised and marked failed. Here rather than in the notebook: starting Ray and its worker processes costs the
pipeline's quick run of 06a_tune ~25 s."""
import contextlib, io, json

import optuna
import pytest

from algobot.tasks import TradingTask, synthetic_tasks
from algobot.tune import _storage, main, tuning_trials, tune


@pytest.fixture
def ray_down():
    "Ray is stopped after the test (`tune(workers=2)` starts it), even on failure."
    import ray
    yield
    ray.shutdown()


def test_parallel_trials_on_ray(tmp_path, scratch_settings, ray_down):
    import ray
    syn = [TradingTask(t, window=8) for t in synthetic_tasks(1, 800, seed=2)]
    db, kw = tmp_path / "tune.journal", dict(total_steps=128, n_envs=2, n_folds=1, embargo=10)
    study = tune(syn, 5, db, workers=2, **kw)
    assert ray.is_initialized()
    assert sorted(t.number for t in study.trials) == [0, 1, 2, 3, 4]                       # none lost, none twice
    assert tuning_trials(db) == 5 and {t.state.name for t in study.trials} <= {"COMPLETE", "PRUNED"}
    assert len({json.dumps(t.params, sort_keys=True) for t in study.trials}) == 5          # five different proposals
    first = {t.number: t.params for t in study.trials}
    again = tune(syn, 7, db, workers=2, **kw)                                              # resumes: 2 more
    assert (tuning_trials(db), sorted(t.number for t in again.trials)) == (7, list(range(7)))
    assert {t.number: t.params for t in again.trials if t.number < 5} == first
    assert len(tune(syn, 6, db, workers=2, **kw).trials) == 7                               # fewer: nothing runs
    optuna.load_study(study_name="ppo", storage=_storage(db)).ask()                         # a trial cut short by a kill
    assert tuning_trials(db) == 7                                                           # ... is not counted
    final = tune(syn, 8, db, workers=2, **kw)
    assert (tuning_trials(db), [t.state.name for t in final.trials].count("RUNNING")) == (8, 1)
    # a trial that fails in its worker (here: folds its task cannot hold) is printed and raised; Optuna marks it failed
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(RuntimeError, match="trial task 0 of 1 failed on a Ray worker"):
        tune(syn, 9, db, workers=2, **{**kw, "n_folds": 50})
    assert "trial task 0 of 1 failed on a Ray worker" in err.getvalue() and "_objective" in err.getvalue(), err.getvalue()
    states = [t.state.name for t in optuna.load_study(study_name="ppo", storage=_storage(db)).trials]
    assert (tuning_trials(db), states.count("FAIL")) == (8, 1)                               # not counted: a rerun replaces it


def test_algobot_tune_workers(tmp_path, scratch_settings, ray_down):
    "`algobot-tune --trials 2`, then `--trials 4 --workers 2`: two trials more, on Ray."
    cli = ["--synthetic", "1", "--folds", "1", "--steps", "128", "--n-envs", "2", "--embargo", "10", "--models-dir",
           str(tmp_path), "--no-tensorboard"]
    assert main(["--trials", "2", *cli]) == 0 and tuning_trials(tmp_path / "tune.journal") == 2
    assert main(["--trials", "4", "--workers", "2", *cli]) == 0 and tuning_trials(tmp_path / "tune.journal") == 4
