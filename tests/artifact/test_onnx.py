"""to_onnx(): ONNX Runtime's labels against the compiled model's, on every dataset."""

from __future__ import annotations

import numpy as np
import pytest

from greenauto.compiled import compile_model
from greenauto.exceptions import ExportError

from ..compiled.conftest import DATASETS
from .test_exports import EXPORTABLE
from .test_parity import fitted

ort = pytest.importorskip("onnxruntime", reason="the onnx extra is installed by make install")


def run_onnx(model, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    label, proba = session.run(None, {"X": X.astype(np.float64)})
    return np.asarray(label).ravel(), np.asarray(proba)


@pytest.mark.parametrize("kind", [k for k in EXPORTABLE if k != "vote-soft"])
@pytest.mark.parametrize("name", DATASETS)
def test_onnx_runtime_labels_equal_ours(name, kind):
    model, X, _ = fitted(name, kind)
    compiled = compile_model(model)
    labels, proba = compiled.predict_with_proba(X)
    got_labels, got_proba = run_onnx(compiled.to_onnx(), X)
    np.testing.assert_array_equal(got_labels, labels)
    np.testing.assert_allclose(got_proba, proba, rtol=0, atol=1e-5)


def test_a_knn_member_is_refused():
    model, _, _ = fitted("penguins", "vote-soft")
    with pytest.raises(ExportError, match="TopK breaks distance ties"):
        compile_model(model).to_onnx()
