"""compile_model: a fitted model or scikit-learn Pipeline to a CompiledPipeline."""

from __future__ import annotations

from typing import Any

import numpy as np

from greenauto.compiled._members import member_kind, n_features_of
from greenauto.compiled._pipeline import CompiledPipeline
from greenauto.compiled._schema import schema_from_names
from greenauto.preprocessing import Binner

__all__ = ["compile_model"]


def compile_model(fitted: Any, *, n_threads: int | None = None) -> CompiledPipeline:
    """Compile a fitted model, or a Pipeline of binning and column selection ending in one.

    Parameters
    ----------
    fitted : estimator
        One of:

        - a fitted scikit-learn ``DecisionTreeClassifier``, ``RandomForestClassifier``,
          ``ExtraTreesClassifier``, LightGBM ``LGBMClassifier`` or ``Booster`` (binary or
          multiclass), fitted on numbers of any dtype;
        - a fitted scikit-learn ``Pipeline`` whose steps are any of :class:`~greenauto.Binner`
          (at most one), column selection (:class:`~greenauto.FeatureSelector`, any
          scikit-learn selector with ``get_support``, a ``ColumnTransformer`` of
          ``"passthrough"`` columns) and ``"passthrough"``, followed by one of the models
          above, a ``CategoricalNB``, ``GaussianNB`` or ``KNeighborsClassifier`` (these three
          after a Binner), or a :class:`~greenauto.ensemble.MajorityVoteClassifier` of them;
        - a :class:`CompiledPipeline` (returned as is), or an object handing one over through
          ``compiled_model()`` (a fitted :class:`~greenauto.GreenAutoClassifier`).
    n_threads : int or None, default=None
        Threads of the compiled pipeline (``None``: 1, ``-1``: all cores).

    Returns
    -------
    compiled : CompiledPipeline
        Predicts the same labels and probabilities as ``fitted`` (see its docstring).

    Raises
    ------
    TypeError, ValueError
        A step or model that cannot be compiled; the message names the step.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from greenauto import Binner, FeatureSelector, compile_model
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> pipe = make_pipeline(Binner(n_bins=16), FeatureSelector(k=2),
    ...                      DecisionTreeClassifier(max_depth=3, random_state=0)).fit(X, y)
    >>> bool((compile_model(pipe).predict(X) == pipe.predict(X)).all())
    True
    """
    if isinstance(fitted, CompiledPipeline):
        return fitted
    handover = getattr(fitted, "compiled_model", None)
    if callable(handover):
        return handover()
    steps = getattr(fitted, "steps", None)
    if not isinstance(steps, list):
        steps = [("model", fitted)]
    *transforms, (final_name, final) = steps
    n_in = n_features_of(final) if not transforms else _first_width(transforms)
    if n_in is None:
        raise ValueError(f"Cannot tell how many features {type(final).__name__} takes.")
    cols, edges = np.arange(n_in, dtype=np.int64), None
    for name, step in transforms:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        width = n_features_of(step)
        if width is not None and width != cols.size:
            raise ValueError(f"Step {name!r} takes {width} features; it gets {cols.size}.")
        if isinstance(step, Binner):
            if edges is not None:
                raise ValueError(f"Step {name!r}: a pipeline can hold only one Binner.")
            edges = [np.array([-np.inf, np.inf])] * n_in
            for i, c in enumerate(cols):
                edges[c] = np.asarray(step.bin_edges_[i], dtype=np.float64)
        elif hasattr(step, "get_support"):
            cols = cols[np.asarray(step.get_support(indices=True), dtype=np.int64)]
        elif type(step).__name__ == "ColumnTransformer":
            cols = cols[_passthrough_columns(name, step)]
        else:
            raise TypeError(
                f"Step {name!r} ({type(step).__name__}) cannot be compiled: use Binner, "
                "FeatureSelector (or another selector with get_support), a ColumnTransformer "
                "of 'passthrough' columns, or 'passthrough'."
            )
    try:
        pipe = _compile_final(final, cols, edges, n_in, n_threads)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"Step {final_name!r} ({type(final).__name__}): {exc}") from None
    names = getattr(steps[0][1], "feature_names_in_", None)
    if names is not None:
        from dataclasses import replace

        schema = schema_from_names(names, n_in)
        pipe = CompiledPipeline.from_ir(replace(pipe.ir, schema=schema), n_threads=n_threads)
    return pipe


def _first_width(transforms: list[tuple[str, Any]]) -> int | None:
    for _, step in transforms:
        if step is not None and not (isinstance(step, str) and step == "passthrough"):
            return n_features_of(step)
    return None


def _passthrough_columns(name: str, step: Any) -> np.ndarray:
    """Input positions a ColumnTransformer of 'passthrough' columns puts out, in order."""
    n = int(step.n_features_in_)
    names = getattr(step, "feature_names_in_", None)
    out = []
    for part, trans, columns in step.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        identity = type(trans).__name__ == "FunctionTransformer" and trans.func is None
        if not (identity or (isinstance(trans, str) and trans == "passthrough")):
            raise TypeError(
                f"Step {name!r}: ColumnTransformer part {part!r} is {type(trans).__name__}; "
                "only 'passthrough' and 'drop' parts can be compiled."
            )
        index = np.arange(n)
        cols = np.asarray(columns)
        if cols.dtype == bool or cols.dtype.kind in "iu":
            out.append(index[cols])
        elif names is not None:
            lookup = {str(c): i for i, c in enumerate(names)}
            out.append(np.array([lookup[str(c)] for c in np.atleast_1d(cols)], dtype=np.int64))
        else:
            raise TypeError(f"Step {name!r}: columns {columns!r} cannot be resolved.")
    return np.concatenate(out).astype(np.int64) if out else np.empty(0, np.int64)


def _compile_final(
    final: Any, cols: np.ndarray, edges: list | None, n_in: int, n_threads: int | None
) -> CompiledPipeline:
    parts_of = getattr(final, "compiled_parts", None)
    if callable(parts_of):
        parts = parts_of()  # members, classes (indices), labels, voting
        members, classes = parts.members, parts.classes
        labels, voting = parts.labels, getattr(parts, "voting", "hard")
    else:
        member_kind(final)
        members, labels, voting = [final], None, "hard"
        classes = getattr(final, "classes_", None)
        if classes is None:  # a bare LightGBM Booster: classes 0 .. n_classes - 1
            dump_classes = max(2, int(final.dump_model().get("num_class", 1)))
            classes = np.arange(dump_classes)
    return CompiledPipeline(
        members,
        classes=classes,
        binner=edges,
        columns=cols,
        n_features_in=n_in,
        n_threads=n_threads,
        voting=voting,
        labels=labels,
    )
