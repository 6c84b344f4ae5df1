"""Concurrency and load: one model called from 8 threads at once, and 10 million rows
predicted in batches with flat memory.

The thread-team case (OpenMP granting fewer threads than asked) is pinned by
``tests/compiled/test_thread_team.py``; here the model is also run with 2 kernel threads
under ``OMP_DYNAMIC=true OMP_THREAD_LIMIT=1`` in a fresh process.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import psutil
import pytest

from greenauto import GreenAutoClassifier
from greenauto.datasets import load_dataset

#: RSS may grow by at most this much over the batches after the first ones (allocator noise).
RSS_SLACK_MB = 24.0


@pytest.fixture(scope="module")
def adult():
    """A search on adult (text and numeric columns): predict runs the encoder and the
    compiled model, the whole path."""
    X, y = load_dataset("adult")
    X, y = X.iloc[:6000], y.iloc[:6000]
    auto = GreenAutoClassifier(
        time_budget=None, n_trials=8, energy_meter="model", random_state=0,
        learners=["random_forest", "lightgbm", "gaussian_nb"],
    ).fit(X, y)  # fmt: skip
    return auto, X


def test_eight_threads_on_one_model_give_the_single_thread_results(adult) -> None:
    auto, X = adult
    slices = [X.iloc[i * 600 : (i + 1) * 600] for i in range(10)]
    labels = [auto.predict(s) for s in slices]
    probas = [auto.predict_proba(s) for s in slices]

    def hammer(worker: int) -> list[int]:
        bad = []
        for round_ in range(12):
            i = (worker + round_) % len(slices)
            if round_ % 2:
                ok = np.array_equal(auto.predict(slices[i]), labels[i])
            else:
                ok = np.array_equal(auto.predict_proba(slices[i]), probas[i])
            if not ok:
                bad.append(i)
        return bad

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(hammer, range(8)))
    assert results == [[]] * 8


def test_ten_million_rows_in_batches_keep_rss_flat(adult) -> None:
    """10,000,000 rows through ``compiled_model().predict_with_proba`` in 100 batches of
    100,000: the resident set size after batch 10 and after batch 100 differ by less than
    RSS_SLACK_MB."""
    auto, X = adult
    compiled = auto.compiled_model()
    encoded = compiled.ir.schema is not None and auto._encoder.transform(X)  # numbers
    rng = np.random.default_rng(0)
    process = psutil.Process()
    batch, n_batches, rss = 100_000, 100, []
    total = 0
    for b in range(n_batches):
        rows = encoded[rng.integers(0, encoded.shape[0], batch)]
        labels, proba = compiled.predict_with_proba(rows)
        total += labels.size
        assert proba.shape == (batch, compiled.classes_.size)
        del rows, labels, proba
        if b in (9, n_batches - 1):
            gc.collect()
            rss.append(process.memory_info().rss / 2**20)
    assert total == 10_000_000
    growth = rss[1] - rss[0]
    print(f"RSS after 1M rows {rss[0]:.1f} MiB, after 10M rows {rss[1]:.1f} MiB")
    assert growth < RSS_SLACK_MB, rss


def test_two_kernel_threads_under_a_thread_limit_of_one(tmp_path, adult) -> None:
    """Asking for 2 OpenMP threads when the runtime grants 1 gives the same results."""
    auto, X = adult
    from greenauto import save_model

    save_model(auto, tmp_path / "m.gam")
    rows = auto._encoder.transform(X)
    np.save(tmp_path / "rows.npy", rows)
    np.save(tmp_path / "proba.npy", auto.predict_proba(X))
    script = textwrap.dedent(
        f"""
        import numpy as np
        from greenauto import load_model
        model = load_model({str(tmp_path / "m.gam")!r}, n_threads=2)
        rows = np.tile(np.load({str(tmp_path / "rows.npy")!r}), (4, 1))  # > 4,096 per thread
        expected = np.tile(np.load({str(tmp_path / "proba.npy")!r}), (4, 1))
        assert np.array_equal(model.predict_proba(rows), expected)
        print("ok")
        """
    )
    env = os.environ | {"OMP_DYNAMIC": "true", "OMP_THREAD_LIMIT": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, cwd=tmp_path, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
