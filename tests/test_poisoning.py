"""Poisoning RL² on RLlib (issue 22): what the study scores — the policy `RL2RLlibContestant` returns for a fold — is the
same whether or not the fold's test block is poisoned; a harness whose meta-learner trains on the other tasks' test
block is caught by the same check. The other learned contestants are poison-tested in `nbs/18_contestants.ipynb`;
this one lives here because it starts Ray."""
import numpy as np
import pytest
import torch

import algobot.contestants as contestants
from algobot.chunks import final_chunk
from algobot.metrics import backtest
from algobot.config import init_ray
from algobot.tasks import PERIODS, FoldTask, TradingTask, discover_tasks, synthetic_tasks

OHLC = ["open", "high", "low", "close"]
NAMES = [t.name for t in synthetic_tasks(3, 1500, seed=5)]


def mirror(df, cut):
    "From bar `cut` on, every price p becomes 1.5·ref²/p (ref: the close before `cut`): a jump, then every move reversed."
    df, ref = df.copy(), df.close.iloc[cut - 1]
    o, h, l, c = (df.loc[cut:, k].to_numpy() for k in OHLC)
    df.loc[cut:, OHLC] = np.c_[1.5 * ref**2 / o, 1.5 * ref**2 / l, 1.5 * ref**2 / h, 1.5 * ref**2 / c]   # high <-> low
    return df


def tasks_in(folder, cut=None):
    "The three synthetic tasks written as CSV files to `folder` (poisoned from bar `cut` on): RLlib rebuilds them from specs."
    folder.mkdir()
    for source in synthetic_tasks(3, 1500, seed=5):
        df = source.load()
        (mirror(df, cut) if cut else df).to_csv(folder / f"{source.name}.csv", index=False)
    return [TradingTask(t) for t in discover_tasks(folder, only=NAMES)]


@pytest.fixture(scope="module")
def ray_up():
    import ray
    init_ray()
    yield
    ray.shutdown()


def scored(tasks, clean, models_dir):
    """What the study scores: the policy RL² on RLlib returns for fold 1 of `tasks[0]`, run over the clean fold's bars
    before its test block (its actions), and that policy's weights."""
    fold = tasks[0].fold(1, n_folds=2, embargo=20)
    env = clean.make_env("val", span=(clean.periods["train"][1] - 200, clean.periods["val"][1]))
    actions = backtest(contestants.RL2RLlibContestant(models_dir, tasks, 256, n_envs=2)(fold, env, 0), env).steps.action
    weights = torch.load(final_chunk(models_dir, f"rl2_rllib_{fold.name}_fold1_seed0") / "policy.pt", weights_only=True)
    return actions.to_numpy()[1:], torch.cat([w.flatten().float() for w in weights.values()])


def leaky_others(task, tasks, min_bars, who):
    "A broken harness: the meta-learner trains on the other tasks' bars of the fold's *test* block."
    return [FoldTask(t, 1, dict.fromkeys(PERIODS, task.periods["test"])) for t in tasks if t.name != task.name]


def test_rl2_rllib_ignores_a_poisoned_test_block(tmp_path, ray_up, monkeypatch):
    clean_tasks = tasks_in(tmp_path / "clean")
    clean = clean_tasks[0].fold(1, n_folds=2, embargo=20)
    dirty_tasks = tasks_in(tmp_path / "dirty", cut=clean.periods["test"][0])   # every task, from the test block's time on
    assert not np.array_equal(dirty_tasks[1].feed.close, clean_tasks[1].feed.close)   # the poison is there
    a, b = (scored(ts, clean, tmp_path / f"models_{i}") for i, ts in enumerate((clean_tasks, dirty_tasks)))
    np.testing.assert_array_equal(a[0], b[0])   # the same actions ...
    assert torch.equal(a[1], b[1])              # ... of the same weights
    # the check has teeth: a harness that trains the meta-learner on the other tasks' test block is caught
    monkeypatch.setattr(contestants, "_others", leaky_others)
    a, b = (scored(ts, clean, tmp_path / f"leaky_{i}") for i, ts in enumerate((clean_tasks, dirty_tasks)))
    assert not torch.equal(a[1], b[1]) and not np.array_equal(a[0], b[0])
