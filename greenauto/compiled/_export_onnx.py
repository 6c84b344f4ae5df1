"""A model IR as an ONNX model (optional extra ``greenauto[onnx]``: skl2onnx, onnx, onnxruntime).

Graph: input ``X`` (double, ``n_features_in`` columns) -> binning written here with standard
ops (gather the selected columns; count the inner edges ``<= x`` with ``GreaterOrEqual``
against NaN-padded edges; NaN, which compares false, gets ``n_bins``: its own bin) -> the
codes, as float -> the members and the vote, converted by skl2onnx from :func:`to_sklearn`'s
last step -> outputs ``label`` and ``probabilities`` (no ZipMap).

Exactness: the codes are small integers, exact in float; binned tree thresholds sit halfway
between codes, raw ones are rounded down to float32 (the same decision for every float32
input) and NaN is routed as the source model routes it. ONNX Runtime adds tree leaf values in
float32, so probabilities agree to ~1e-6, not to the last bit. KNN members are refused: ONNX
Runtime's TopK breaks distance ties differently from scikit-learn's heap.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from greenauto.compiled._export_sklearn import to_sklearn
from greenauto.compiled._ir import KnnIR, ModelIR, TreesIR
from greenauto.exceptions import ExportError

__all__ = ["to_onnx"]

_OPSET = 17
_ML_OPSET = 3


def _require() -> tuple[Any, Any]:
    try:
        import onnx
        import skl2onnx
    except ImportError as exc:  # only when the feature is used
        raise ImportError(
            "to_onnx needs the optional dependencies of greenauto[onnx]: "
            "pip install 'greenauto[onnx]' (skl2onnx, onnx, onnxruntime)."
        ) from exc
    return onnx, skl2onnx


def to_onnx(ir: ModelIR) -> Any:
    """The model as an ``onnx.ModelProto``.

    Parameters
    ----------
    ir : ModelIR
        The model (exportable by :func:`to_sklearn`).

    Returns
    -------
    model : onnx.ModelProto
        Input ``X`` (double, ``(n, n_features_in)``); outputs ``label`` and ``probabilities``.
    """
    onnx, _ = _require()
    from onnx import TensorProto, helper

    if any(isinstance(m, KnnIR) for m in ir.members):
        raise ExportError(
            "A KNN member is not exported to ONNX: ONNX Runtime's TopK breaks distance ties "
            "by training-row index, scikit-learn's brute-force search (which greenauto "
            "reproduces) by its heap, so labels would differ on rows with tied neighbours. "
            "Save the model with greenauto.save_model instead."
        )
    final = to_sklearn(ir).steps[-1][1]
    members = _members_graph(final, ir.n_member_features)
    if not ir.binned:
        _route_missing(members, [m for m in ir.members if isinstance(m, TreesIR)])
    X = helper.make_tensor_value_info("X", TensorProto.DOUBLE, [None, ir.n_features_in])
    feed = members.graph.input[0].name
    if ir.binned:
        binning = _binning_graph(ir, "codes")
        nodes = list(binning.node)
        inits = list(binning.initializer)
        nodes.append(helper.make_node("Cast", ["codes"], [feed], to=TensorProto.FLOAT))
    else:
        nodes, inits = [helper.make_node("Cast", ["X"], [feed], to=TensorProto.FLOAT)], []
    graph = helper.make_graph(
        nodes + list(members.graph.node),
        "greenauto",
        [X],
        list(members.graph.output),
        initializer=inits + list(members.graph.initializer),
    )
    model = helper.make_model(graph, opset_imports=list(members.opset_import))
    model.ir_version = members.ir_version
    onnx.checker.check_model(model)
    return model


def _members_graph(final: Any, n_features: int) -> Any:
    _, skl2onnx = _require()
    from skl2onnx.common.data_types import FloatTensorType

    options = {id(final): {"zipmap": False}}
    model = skl2onnx.convert_sklearn(
        final,
        initial_types=[("member_input", FloatTensorType([None, n_features]))],
        options=options,
        target_opset={"": _OPSET, "ai.onnx.ml": _ML_OPSET},
    )
    _zero_base_values(model)
    return model


def _zero_base_values(model: Any) -> None:
    """skl2onnx gives a multiclass GradientBoostingClassifier with init="zero" one base value
    instead of one per class (it looks for a loss attribute scikit-learn no longer has); the
    right value is zero for every class."""
    for node in model.graph.node:
        if node.op_type != "TreeEnsembleClassifier":
            continue
        attrs = {a.name: a for a in node.attribute}
        n_classes = len(attrs["classlabels_int64s"].ints) if "classlabels_int64s" in attrs else 0
        base = attrs.get("base_values")
        if base is not None and n_classes > 2 and len(base.floats) == 1 and base.floats[0] == 0:
            base.floats[:] = [0.0] * n_classes


def _route_missing(model: Any, trees: list[TreesIR]) -> None:
    """Send NaN where the source model sends it: skl2onnx leaves ``missing_go_to_left`` out,
    so every tree-ensemble node gets ``nodes_missing_value_tracks_true`` from the IR (a
    ``BRANCH_LEQ`` node's true branch is its left child)."""
    from onnx import helper

    ensembles = [n for n in model.graph.node if n.op_type.startswith("TreeEnsemble")]
    for node, member in zip(ensembles, trees, strict=True):
        f = member.forest
        attrs = {a.name: a for a in node.attribute}
        tree_ids, node_ids = attrs["nodes_treeids"].ints, attrs["nodes_nodeids"].ints
        pairs = zip(tree_ids, node_ids, strict=True)
        tracks = [int(f.missing_left[f.tree_starts[t] + i]) for t, i in pairs]
        if "nodes_missing_value_tracks_true" in attrs:
            node.attribute.remove(attrs["nodes_missing_value_tracks_true"])
        node.attribute.append(helper.make_attribute("nodes_missing_value_tracks_true", tracks))


def _binning_graph(ir: ModelIR, out: str) -> Any:
    from onnx import TensorProto, helper, numpy_helper

    cols = ir.columns
    width = max(1, max(ir.bin_edges[c].size for c in cols.tolist()))
    edges = np.full((1, cols.size, width), np.nan)
    for i, c in enumerate(cols.tolist()):
        edges[0, i, : ir.bin_edges[c].size] = ir.bin_edges[c]
    inits = [
        numpy_helper.from_array(cols.astype(np.int64), "bin_columns"),
        numpy_helper.from_array(edges, "bin_edges"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "bin_axis"),
        numpy_helper.from_array(  # NaN: bin n_bins = edges + 1
            np.array([ir.bin_edges[c].size + 1 for c in cols.tolist()], dtype=np.float64),
            "bin_nan_code",
        ),
    ]
    nodes = [
        helper.make_node("Gather", ["X", "bin_columns"], ["bin_x"], axis=1),
        helper.make_node("Unsqueeze", ["bin_x", "bin_axis"], ["bin_x3"]),
        helper.make_node("GreaterOrEqual", ["bin_x3", "bin_edges"], ["bin_ge"]),
        helper.make_node("Cast", ["bin_ge"], ["bin_ge_d"], to=TensorProto.DOUBLE),
        helper.make_node("ReduceSum", ["bin_ge_d", "bin_axis"], ["bin_count"], keepdims=0),
        helper.make_node("IsNaN", ["bin_x"], ["bin_nan"]),
        helper.make_node("Cast", ["bin_nan"], ["bin_nan_d"], to=TensorProto.DOUBLE),
        helper.make_node("Mul", ["bin_nan_d", "bin_nan_code"], ["bin_nan_add"]),
        helper.make_node("Add", ["bin_count", "bin_nan_add"], [out]),
    ]
    return helper.make_graph(nodes, "binning", [], [], initializer=inits)
