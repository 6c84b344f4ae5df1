"""The other runtimes of the inference benchmark (each returns ``fn(X, n_threads)`` or None when
it cannot run the model), and the node-visit count of a tree model on data."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path

import lightgbm as lgb
import numpy as np
from threadpoolctl import threadpool_limits

from greenauto.compiled import flatten_trees

Predict = Callable[[np.ndarray, int], object]


def visits_per_row(model: object, X: np.ndarray) -> float:
    """Mean internal nodes a row visits over all trees (the comparisons actually made)."""
    flat = flatten_trees(model)
    rows = np.arange(X.shape[0])
    total = 0
    for t in range(flat.n_trees):
        node = np.full(X.shape[0], flat.tree_starts[t])
        while True:
            inner = flat.left[node] != -1
            if not inner.any():
                break
            total += int(inner.sum())
            x = X[rows, flat.feature[node]].astype(np.float64)
            go_left = np.where(
                np.isnan(x), flat.missing_left[node] == 1, x <= flat.threshold[node]
            )
            node = np.where(inner, np.where(go_left, flat.left[node], flat.right[node]), node)
    return total / X.shape[0]


def sklearn_predict(model: object) -> Predict:
    def run(X: np.ndarray, threads: int) -> object:
        if hasattr(model, "n_jobs"):
            model.n_jobs = threads
        with threadpool_limits(threads):
            return model.predict(X)

    return run


def onnx_predict(model: object, n_features: int) -> Predict | None:
    """ONNX Runtime sessions (1 and 2 intra-op threads) of a scikit-learn or LightGBM model."""
    try:
        import onnxruntime as ort

        if isinstance(model, lgb.LGBMClassifier):
            import onnxmltools
            from onnxmltools.convert.common.data_types import FloatTensorType

            types = [("X", FloatTensorType([None, n_features]))]
            onx = onnxmltools.convert_lightgbm(model, initial_types=types, zipmap=False)
        else:
            from skl2onnx import to_onnx
            from skl2onnx.common.data_types import FloatTensorType

            types = [("X", FloatTensorType([None, n_features]))]
            onx = to_onnx(model, initial_types=types, options={"zipmap": False})
        sessions = {}
        for threads in (1, 2):
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3  # LightGBM labels: a shape warning on every call
            sessions[threads] = ort.InferenceSession(
                onx.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
    except Exception as exc:  # a peer that cannot convert is reported, not fatal
        print(f"  ONNX conversion failed: {exc!r}")
        return None
    name = sessions[1].get_inputs()[0].name
    label = sessions[1].get_outputs()[0].name
    return lambda X, t: sessions[t].run([label], {name: X})[0]


def lleaves_predict(booster: lgb.Booster, workdir: Path) -> Predict | None:
    """lleaves' compiled booster (LLVM; the compile time is printed)."""
    try:
        import lleaves

        path = workdir / "lgbm.txt"
        booster.save_model(str(path))
        model = lleaves.Model(model_file=str(path))
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.compile(cache=str(workdir / "lleaves.o"))
        print(f"  lleaves compile: {time.perf_counter() - t0:.0f} s", flush=True)
    except Exception as exc:
        print(f"  lleaves failed: {exc!r}")
        return None
    return lambda X, t: model.predict(X, n_jobs=t)
