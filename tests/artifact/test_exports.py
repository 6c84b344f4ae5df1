"""to_sklearn() and to_onnx(): the compiled model's labels, on every dataset."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

from greenauto.compiled import compile_model
from greenauto.exceptions import ExportError

from ..compiled.conftest import DATASETS
from .test_parity import PIPELINES, fitted

EXPORTABLE = [k for k in PIPELINES if k != "vote-hard" and k != "rf+cnb-hard"]


@pytest.mark.parametrize("kind", EXPORTABLE)
@pytest.mark.parametrize("name", DATASETS)
def test_to_sklearn_predicts_the_same(name, kind):
    model, X, _ = fitted(name, kind)
    compiled = compile_model(model)
    exported = compiled.to_sklearn()
    labels, proba = compiled.predict_with_proba(X)
    np.testing.assert_array_equal(exported.predict(X), labels)
    np.testing.assert_allclose(exported.predict_proba(X), proba, rtol=0, atol=1e-6)
    assert b"greenauto" not in pickle.dumps(exported)


@pytest.mark.parametrize("kind", ["vote-hard", "rf+cnb-hard"])
def test_to_sklearn_refuses_a_hard_vote_that_can_tie(kind):
    model, _, _ = fitted("penguins", kind)
    with pytest.raises(ExportError, match="summed probabilities"):
        compile_model(model).to_sklearn()


def test_to_sklearn_loads_without_greenauto(tmp_path):
    model, X, _ = fitted("breast_cancer_wisconsin", "vote-soft")
    compiled = compile_model(model)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(compiled.to_sklearn()))
    np.save(tmp_path / "X.npy", X)
    script = (
        "import pickle, sys, numpy as np\n"
        "sys.modules['greenauto'] = None  # importing greenauto now fails\n"
        f"model = pickle.load(open({str(tmp_path / 'model.pkl')!r}, 'rb'))\n"
        f"print(' '.join(map(str, model.predict(np.load({str(tmp_path / 'X.npy')!r})))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-P", "-c", script], capture_output=True, text=True, check=True
    )
    np.testing.assert_array_equal(np.array(out.stdout.split(), dtype=int), compiled.predict(X))
