"""Every row is written whatever team size OpenMP grants (here: fewer threads than asked)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def test_rows_are_all_written_when_openmp_grants_fewer_threads(tmp_path):
    script = textwrap.dedent(
        """
        import numpy as np
        from sklearn.naive_bayes import GaussianNB
        from sklearn.tree import DecisionTreeClassifier
        from greenauto import Binner
        from greenauto.compiled import CompiledPipeline

        rng = np.random.default_rng(0)
        X = rng.normal(size=(30_000, 4))
        y = (X[:, 0] + X[:, 1] > 0).astype(int)
        binner = Binner(n_bins=16).fit(X)
        codes = binner.transform(X).astype(float)
        tree = DecisionTreeClassifier(max_depth=6, random_state=0).fit(codes, y)
        nb = GaussianNB().fit(codes, y)
        for voting in ("hard", "soft"):
            one = CompiledPipeline([tree, nb], classes=[0, 1], binner=binner, voting=voting)
            four = CompiledPipeline(
                [tree, nb], classes=[0, 1], binner=binner, voting=voting, n_threads=4
            )
            a, pa = one.predict_with_proba(X)
            b, pb = four.predict_with_proba(X)
            assert np.array_equal(a, b) and np.array_equal(pa, pb), voting
            assert np.allclose(pb.sum(axis=1), 1.0), "a row was left unwritten"
        print("ok")
        """
    )
    env = os.environ | {"OMP_THREAD_LIMIT": "1", "OMP_DYNAMIC": "true"}
    out = subprocess.run(
        [sys.executable, "-P", "-c", script], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"
