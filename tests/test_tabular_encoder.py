"""TabularEncoder: the compiled DataFrame path gives exactly what the pandas path gives."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

from greenauto._kernels import StringCategories, encode_columns
from greenauto.preprocessing import TabularEncoder

from .compiled.conftest import DATASETS, dataset_files

MIXED = [n for n in ("adult", "penguins", "car_evaluation") if n in DATASETS]


def frame_of(name: str, n: int = 2000) -> pd.DataFrame:
    path = next(p for p in dataset_files() if p.name == f"{name}.csv.gz")
    frame = pd.read_csv(path).drop(columns="target")
    return frame.sample(min(n, len(frame)), random_state=0)


def both_paths(enc: TabularEncoder, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(compiled path, pandas path) of the same frame."""
    fast = enc._transform_frame(frame)
    assert fast is not None, "the compiled path declined this frame"
    return fast, enc._transform_columns(frame, frame)


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_array_equal(np.nan_to_num(a, nan=-7.0), np.nan_to_num(b, nan=-7.0))


@pytest.mark.parametrize("name", MIXED)
@pytest.mark.parametrize("storage", ["as read", "object", "category"])
def test_compiled_path_equals_pandas_path_on_real_data(name, storage):
    frame = frame_of(name)
    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    assert text, f"{name} has no text column"
    if storage == "object":
        frame = frame.astype(dict.fromkeys(text, object))
    elif storage == "category":
        frame = frame.astype(dict.fromkeys(text, "category"))
    enc = TabularEncoder().fit(frame)
    batch = frame.iloc[::3]  # another frame object, rows in another order than fit
    fast, slow = both_paths(enc, batch)
    assert_same(fast, slow)
    assert_same(enc.transform(batch), slow)


def test_missing_values_of_every_kind_become_nan():
    frame = pd.DataFrame({"c": pd.Series(["a", None, "b", np.nan, pd.NA, "a"], dtype=object)})
    enc = TabularEncoder().fit(frame)
    out = enc.transform(frame)
    np.testing.assert_array_equal(np.isnan(out[:, 0]), [False, True, False, True, True, False])
    np.testing.assert_array_equal(out[[0, 2, 5], 0], [0.0, 1.0, 0.0])


@pytest.mark.parametrize("storage", ["object", "str", "category"])
def test_unknown_category_is_named_or_missing(storage):
    fit = pd.DataFrame({"size": [1.0, 2.0, 3.0], "colour": ["red", "blue", "red"]})
    new = pd.DataFrame({"size": [1.0, 2.0, 3.0], "colour": ["red", "green", "blue"]})
    fit, new = fit.astype({"colour": storage}), new.astype({"colour": storage})
    with pytest.raises(
        ValueError, match=r"Column 'colour' has categories never seen in fit: \['green'\]"
    ):
        TabularEncoder().fit(fit).transform(new)
    out = TabularEncoder(handle_unknown="missing").fit(fit).transform(new)
    np.testing.assert_array_equal(np.isnan(out[:, 1]), [False, True, False])
    assert out[2, 1] == 0.0  # blue: first in sorted order


def test_numeric_dtypes_are_converted_exactly():
    n = 7
    frame = pd.DataFrame(
        {
            "i8": np.arange(n, dtype=np.int8) - 3,
            "u16": np.arange(n, dtype=np.uint16) * 1000,
            "i64": np.arange(n, dtype=np.int64) * 2**40,
            "f32": np.linspace(-1, 1, n, dtype=np.float32),
            "f16": np.linspace(-1, 1, n).astype(np.float16),
            "b": np.arange(n) % 2 == 0,
            "I64": pd.array([1, None, 3, 4, None, 6, 7], dtype="Int64"),
            "B": pd.array([True, None, False, True, True, None, False], dtype="boolean"),
            "t": ["x", "y", "x", "z", "y", "x", "z"],
        }
    )
    enc = TabularEncoder().fit(frame)
    out = enc.transform(frame)
    slow = enc._transform_columns(frame, frame)
    assert_same(out, slow)
    np.testing.assert_array_equal(out[:, 3], frame["f32"].to_numpy(np.float64))
    assert np.isnan(out[1, 6])
    assert np.isnan(out[5, 7])


def test_non_text_objects_take_the_pandas_path():
    fit = pd.DataFrame({"c": pd.Series(["a", "b", "a"], dtype=object)})
    enc = TabularEncoder().fit(fit)
    odd = pd.DataFrame({"c": pd.Series(["a", 5, "b"], dtype=object)})  # an int among text
    assert enc._transform_frame(odd) is None
    with pytest.raises(ValueError, match=r"Column 'c' has categories never seen in fit: \['5'\]"):
        enc.transform(odd)


def test_categorical_dtype_with_other_categories():
    fit = pd.DataFrame({"c": pd.Categorical(["lo", "hi", "mid"], categories=["lo", "mid", "hi"])})
    enc = TabularEncoder(handle_unknown="missing").fit(fit)
    new = pd.DataFrame(
        {"c": pd.Categorical(["hi", None, "lo", "new"], categories=["new", "hi", "lo"])}
    )
    fast, slow = both_paths(enc, new)
    assert_same(fast, slow)
    np.testing.assert_array_equal(fast[[0, 2], 0], [2.0, 0.0])  # codes of the fitted order
    assert np.isnan(fast[1, 0])
    assert np.isnan(fast[3, 0])


def test_column_checks_still_name_the_problem():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    enc = TabularEncoder().fit(frame)
    with pytest.raises(ValueError, match="same names in another order"):
        enc.transform(frame[["b", "a"]])
    with pytest.raises(ValueError, match=r"missing \['b'\], unexpected \['c'\]"):
        enc.transform(frame.rename(columns={"b": "c"}))


def test_pickle_drops_and_rebuilds_the_compiled_tables():
    frame = frame_of(MIXED[0], 300)
    enc = TabularEncoder().fit(frame)
    before = enc.transform(frame)
    state = enc.__getstate__()
    assert "_tables" not in state
    assert "_remap" not in state
    again = pickle.loads(pickle.dumps(enc))
    assert_same(again.transform(frame), before)


def test_compiled_pipeline_reads_the_column_major_output():
    from sklearn.tree import DecisionTreeClassifier

    from greenauto import Binner
    from greenauto.compiled import CompiledPipeline

    frame = frame_of(MIXED[0], 1500)
    y = np.arange(len(frame)) % 3
    enc = TabularEncoder().fit(frame)
    X = enc.transform(frame)
    assert X.flags.f_contiguous
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        binner = Binner(n_bins=32).fit(X)
    tree = DecisionTreeClassifier(max_depth=6, random_state=0).fit(binner.transform(X), y)
    pipe = CompiledPipeline([tree], classes=tree.classes_, binner=binner)
    np.testing.assert_array_equal(pipe.predict(X), pipe.predict(np.ascontiguousarray(X)))
    np.testing.assert_array_equal(pipe.predict(X), tree.predict(binner.transform(X)))


def test_kernel_refuses_bad_tables_and_shapes():
    with pytest.raises(ValueError, match="listed twice"):
        StringCategories(["a", "b", "a"])
    out = np.empty((3, 1), order="F")
    with pytest.raises(ValueError, match="one array and one table entry per output column"):
        encode_columns(out, [], [], pd.NA)
    with pytest.raises(ValueError, match="column 0 has the wrong length"):
        encode_columns(out, [np.zeros(2)], [None], pd.NA)
    table = StringCategories(["a"])
    with pytest.raises(TypeError, match="expected a 1-D object array"):
        encode_columns(out, [np.zeros(3)], [table], pd.NA)


def test_a_stray_string_is_refused_and_the_named_remedy_works():
    col = pd.Series(["1.5", "2.0", "3.5"] * 30 + ["?"], dtype=object)
    with pytest.raises(ValueError, match=r"Column 'x'.*\['\?'\].*astype\(\"category\"\)"):
        TabularEncoder().fit(pd.DataFrame({"x": col}))
    enc = TabularEncoder().fit(pd.DataFrame({"x": col.astype("category")}))
    assert enc.categories_[0].tolist() == ["1.5", "2.0", "3.5", "?"]


@pytest.mark.parametrize("handle_unknown", ["error", "missing"])
def test_pyarrow_text_columns_take_pyarrow_lookup_with_the_same_codes(handle_unknown):
    import pyarrow as pa  # in the test extra (pandas 3 then backs text columns with it)

    rng = np.random.default_rng(0)
    words = np.array(["red", "green", "blue", "é-ü", ""], dtype=object)
    fit_col = rng.choice(words, size=200)
    fit_col[::7] = None
    enc = TabularEncoder(handle_unknown=handle_unknown).fit(
        pd.DataFrame({"x": rng.normal(size=200), "c": fit_col})
    )
    new = rng.choice(words, size=50).astype(object)
    new[::5] = None
    as_object = pd.DataFrame({"x": rng.normal(size=50), "c": pd.Series(new, dtype=object)})
    for dtype in (pd.StringDtype("pyarrow"), pd.ArrowDtype(pa.string())):
        as_arrow = as_object.astype({"c": dtype})
        np.testing.assert_array_equal(enc.transform(as_arrow), enc.transform(as_object))
    unseen = as_object.astype({"c": pd.StringDtype("pyarrow")})
    unseen.loc[3, "c"] = "violet"
    if handle_unknown == "error":
        with pytest.raises(ValueError, match=r"Column 'c' has categories never seen.*violet"):
            enc.transform(unseen)
    else:
        out = enc.transform(unseen)
        assert np.isnan(out[3, 1])  # unknown
        assert np.isnan(out[0, 1])  # missing
        assert np.array_equal(out[1:3, 1], enc.transform(as_object)[1:3, 1])


def test_arrow_string_codes_checks_every_buffer_bound():
    from greenauto._native import arrow_string_codes

    table = StringCategories(["ab", "c"])
    data = np.frombuffer(b"abcxy", np.uint8)
    out = np.empty(3)
    offsets = np.array([0, 2, 3, 5], np.int32)
    assert arrow_string_codes(table, offsets, data, None, 0, out)  # "xy" is unknown
    np.testing.assert_array_equal(out, [0.0, 1.0, -1.0])
    valid = np.array([0b101], np.uint8)  # the middle value missing
    assert not arrow_string_codes(table, offsets[:3], data, valid, 0, out[:2])
    np.testing.assert_array_equal(out[:2], [0.0, np.nan])
    with pytest.raises(ValueError, match="outside the data"):
        arrow_string_codes(table, np.array([0, 9], np.int64), data, None, 0, out[:1])
    with pytest.raises(ValueError, match="offsets are shorter"):
        arrow_string_codes(table, offsets, data, None, 1, out)
    with pytest.raises(ValueError, match="validity bitmap is shorter"):
        arrow_string_codes(table, offsets, data, np.zeros(0, np.uint8), 0, out)
    with pytest.raises(TypeError, match="int32 or int64"):
        arrow_string_codes(table, offsets.astype(np.int16), data, None, 0, out)


def test_string_table_finds_every_length_and_refuses_near_misses():
    """Lengths 0 to 40 (one word, two words, a head and a tail, and beyond 32 bytes with a
    memcmp of the middle), strings that differ in one byte anywhere or by a trailing zero
    byte, each read from the end of its buffer (the short-string loads must not read past
    it)."""
    from greenauto._native import arrow_string_codes

    rng = np.random.default_rng(0)
    cats = ["".join(rng.choice(list("abcdé"), size=n)) for n in range(41)]
    cats = sorted(set(cats), key=cats.index)
    table = StringCategories(cats)
    near = [c[:-1] + ("z" if c[-1] != "z" else "y") for c in cats if c]
    near += [c + "\0" for c in cats] + ["x" + c for c in cats]
    for values, want in ((cats, list(range(len(cats)))), (near, [-1.0] * len(near))):
        for v, w in zip(values, want, strict=True):
            data = np.frombuffer(v.encode(), np.uint8)  # the value alone: its buffer ends there
            out = np.empty(1)
            offsets = np.array([0, data.size], np.int64)
            arrow_string_codes(table, offsets, data, None, 0, out)
            assert out[0] == w, (v, out[0], w)
        out = np.empty((len(values), 1), order="F")  # Python strings: the object path
        unknown = encode_columns(out, [np.array(values, dtype=object)], [table], pd.NA)
        np.testing.assert_array_equal(out[:, 0], want)
        assert unknown == ([] if want[0] == 0 else [0])


def _tricky_strings(rng: np.random.Generator, n: int) -> list[str]:
    """Strings of 0 to 48 bytes that share heads, tails or both with each other: the same
    first 16 bytes with another tail, the same first and last 16 with another middle, a
    trailing zero byte, multi-byte UTF-8."""
    base = ["".join(rng.choice(list("abcé\0"), size=m)) for m in rng.integers(0, 49, n)]
    out = []
    for s in base:
        out.append(s)
        if len(s) > 16:
            out.append(s[:16] + s[16:][::-1])  # same head, another tail
        if len(s) > 34:
            out.append(s[:16] + "x" + s[17:])  # same head and tail, another middle
        out.append(s + "\0")
    return out


def test_categories_that_share_their_first_or_last_bytes_each_get_their_own_slot():
    """Names that differ only past their first 16 bytes, or only between their first and
    last 16: the hash reads the whole string, so a few dozen of them all lie in their home
    slot (the lookup's one-compare path) and hundreds nearly all."""
    prefix = [f"customer_segment_{i:03d}" for i in range(40)]
    middle = [f"the first sixteen and {i:03d} then the last sixteen" for i in range(40)]
    for cats in (prefix, middle):
        table = StringCategories(cats)
        assert table.displaced == 0
        out = np.empty((len(cats), 1), order="F")
        encode_columns(out, [np.array(cats, dtype=object)], [table], pd.NA)
        np.testing.assert_array_equal(out[:, 0], np.arange(len(cats)))
    many = StringCategories([f"customer_segment_{i:04d}" for i in range(500)])
    assert many.displaced <= 0.15 * 500


@pytest.mark.parametrize("n_categories", [3, 40, 700, 3000])
def test_arrow_lookup_matches_a_dict_on_random_strings(n_categories):
    """The hot loop of an Arrow column (one slot compare per value) against a Python dict:
    few and many categories (a table where some categories lie past their home slot),
    values that are categories and near misses, in one buffer and in slices of it, with
    missing values, through utf8 and large_utf8."""
    import pyarrow as pa

    from greenauto._native import arrow_string_codes

    rng = np.random.default_rng(n_categories)
    pool = list(dict.fromkeys(_tricky_strings(rng, n_categories)))
    cats = pool[: max(1, len(pool) // 2)]
    table = StringCategories(cats)
    want_of = {c: float(i) for i, c in enumerate(cats)}
    values = [pool[i] for i in rng.integers(0, len(pool), 5000)]
    values = [None if rng.random() < 0.05 else v for v in values]
    want = np.array([np.nan if v is None else want_of.get(v, -1.0) for v in values])
    for kind in (pa.string(), pa.large_string()):
        arr = pa.array(values, type=kind)
        for start, stop in ((0, len(values)), (13, 4000), (4990, 5000)):
            part = arr.slice(start, stop - start)
            valid, offsets, data = part.buffers()
            off_dtype = np.int32 if kind == pa.string() else np.int64
            out = np.empty(stop - start)
            unknown = arrow_string_codes(
                table,
                np.frombuffer(offsets, off_dtype),
                np.frombuffer(data, np.uint8),
                None if valid is None else np.frombuffer(valid, np.uint8),
                part.offset,
                out,
            )
            assert_same(out, want[start:stop])
            assert unknown == bool((want[start:stop] == -1).any())


def test_block_columns_in_any_layout_match_the_pandas_path():
    """Consolidated 2-D blocks, one block per column, extension arrays and columns in any
    block order: the compiled path reads each column where its block keeps it."""
    rng = np.random.default_rng(1)
    n = 40
    parts = {
        "f": rng.normal(size=n),
        "t": rng.choice(["u", "v", "w"], n),
        "i": rng.integers(0, 9, n),
        "g": rng.normal(size=n).astype(np.float32),
        "e": pd.array(rng.integers(0, 3, n), dtype="Int64"),
        "h": rng.normal(size=n),
    }
    frame = pd.DataFrame(parts)
    enc = TabularEncoder().fit(frame)
    for other in (frame, frame.copy(), frame.iloc[::-1], pd.concat([frame.iloc[:5]] * 3)):
        fast, slow = both_paths(enc, other)
        assert_same(fast, slow)
    renamed = frame.rename(columns={"h": "H"})
    with pytest.raises(ValueError, match=r"missing \['h'\], unexpected \['H'\]"):
        enc.transform(renamed)
    swapped = frame[["f", "t", "i", "g", "h", "e"]]
    with pytest.raises(ValueError, match="same names in another order"):
        enc.transform(swapped)


def test_arrow_text_through_the_c_stream_chunks_slices_and_types():
    """Several chunks, sliced chunks (an offset into the buffers), missing values, utf8 and
    large_utf8: the codes of encode_arrow_text equal the pandas path's; other Arrow types
    give None (the caller takes the pandas path); a stream of the wrong length is refused."""
    import pyarrow as pa

    from greenauto._native import encode_arrow_text

    words = ["red", "green", "a rather long category name", "", "é-ü", None]
    rng = np.random.default_rng(2)
    values = [words[i] for i in rng.integers(0, len(words), 300)]
    enc = TabularEncoder().fit(pd.DataFrame({"c": pd.Series(values, dtype=object)}))
    want = enc.transform(pd.DataFrame({"c": pd.Series(values, dtype=object)}))[:, 0]
    table = StringCategories([str(c) for c in enc.categories_[0]])
    for kind in (pa.string(), pa.large_string()):
        whole = pa.array(values, type=kind)
        pieces = [whole.slice(0, 7), whole.slice(7, 100), whole.slice(107)]
        for column in (whole, pa.chunked_array(pieces, type=kind)):
            out = np.full((300, 2), 5.0, order="F")
            assert encode_arrow_text(out, [1], [table], [column]) == []
            assert_same(out[:, 1], want)
            assert (out[:, 0] == 5.0).all()  # other columns untouched
            with pytest.raises(ValueError, match="more values than rows"):
                encode_arrow_text(np.empty((299, 1), order="F"), [0], [table], [column])
            with pytest.raises(ValueError, match="fewer values than rows"):
                encode_arrow_text(np.empty((301, 1), order="F"), [0], [table], [column])
        unseen = pa.chunked_array([whole.slice(0, 5), pa.array(["violet"], type=kind)])
        out = np.empty((6, 1), order="F")
        assert encode_arrow_text(out, [0], [table], [unseen]) == [0]
        assert out[5, 0] == -1.0
    out = np.empty((3, 1), order="F")
    assert encode_arrow_text(out, [0], [table], [pa.array([1, 2, 3])]) is None
    with pytest.raises(ValueError, match="column-major"):
        encode_arrow_text(np.empty((3, 2)), [0], [table], [pa.array(["a", "b", "c"])])


def _every_kind(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    text = rng.choice(["red", "a-category-longer-than-24-bytes", "blue"], n)
    return pd.DataFrame({
        "i": rng.integers(-5, 5, n),
        "f": rng.normal(size=n).astype(np.float32),
        "arrow": pd.array(text, dtype="str"),
        "obj": pd.Series(text, dtype=object).where(rng.random(n) > 0.2, None),
        "cat": pd.Categorical(text),
        "nullable": pd.array(rng.integers(0, 3, n), dtype="Int64"),
        "b": rng.random(n) > 0.5,
    })  # fmt: skip


@pytest.mark.parametrize("columns", [None, (0, 2), (3, 4, 5), (1,), tuple(range(7))])
def test_used_columns_read_exactly_the_others_nan(columns):
    frame = _every_kind()
    enc = TabularEncoder().fit(frame)
    full = enc.transform(frame)
    got = enc.encode(frame, columns=columns)
    read = range(7) if columns is None else columns
    np.testing.assert_array_equal(got[:, list(read)], full[:, list(read)])
    for j in (j for j in range(7) if j not in read):  # unread: NaN, or read anyway (Int64)
        assert np.isnan(got[:, j]).all() or np.array_equal(got[:, j], full[:, j], equal_nan=True)
    if columns == (0, 2):  # numpy numbers and Arrow text are left unread
        assert np.isnan(got[:, [1, 4, 6]]).all()


def test_used_columns_still_check_names_types_and_read_categories():
    frame = _every_kind()
    enc = TabularEncoder().fit(frame)
    with pytest.raises(ValueError, match=r"Column 'arrow' has categories never seen in fit"):
        enc.encode(frame.assign(arrow="green"), columns=(2,))
    with pytest.raises(ValueError, match=r"Column 'obj' has categories never seen in fit"):
        enc.encode(frame.assign(obj=pd.Series(["green"] * len(frame), dtype=object)), columns=(3,))
    # an unread column is checked for its name and type, not for its values
    assert np.isnan(enc.encode(frame.assign(arrow="green"), columns=(0,))[:, 2]).all()
    with pytest.raises(ValueError, match=r"Column 'i' was numeric in fit"):
        enc.encode(frame.assign(i="high"), columns=(2,))
    with pytest.raises(ValueError, match=r"missing \['b'\]"):
        enc.encode(frame.drop(columns="b"), columns=(0,))


@pytest.mark.parametrize("name", MIXED)
def test_compiled_model_reads_used_columns_with_parity(name):
    from sklearn.tree import DecisionTreeClassifier

    from greenauto.compiled import CompiledPipeline
    from greenauto.preprocessing import Binner

    frame = frame_of(name)
    enc = TabularEncoder().fit(frame)
    X = enc.transform(frame)
    y = np.arange(len(frame)) % 3 if name != "adult" else (X[:, 0] > 40).astype(int)
    y = (X[:, -1] + np.nan_to_num(X[:, 0])) % 3 > 1 if name != "adult" else y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        binner = Binner(n_bins=32, random_state=0).fit(X)
    codes = binner.transform(X)
    tree = DecisionTreeClassifier(max_depth=4, random_state=0).fit(codes, y)
    pipe = CompiledPipeline([tree], classes=tree.classes_, binner=binner)
    user = pipe.with_metadata(encoder=enc)
    assert len(user._used) <= frame.shape[1]
    for batch in (frame, frame.iloc[:1], frame.iloc[5:37]):
        np.testing.assert_array_equal(user.predict(batch), pipe.predict(enc.transform(batch)))
        np.testing.assert_array_equal(
            user.predict_proba(batch), pipe.predict_proba(enc.transform(batch))
        )


def test_numeric_arrays_are_returned_as_float64_without_scikit_learn_validation() -> None:
    """All-numeric encoders take a float array of the fitted width as it is (float64: the
    same array, no copy; float32: widened); other shapes still get the validation's errors."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    enc = TabularEncoder().fit(pd.DataFrame(X, columns=["a", "b", "c"]))
    assert enc.encode(X) is X
    got = enc.encode(X.astype(np.float32))
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, X.astype(np.float32).astype(np.float64))
    np.testing.assert_array_equal(enc.transform(np.asfortranarray(X)), X)
    with pytest.raises(ValueError, match="X has 2 features, but greenauto is expecting 3"):
        enc.encode(X[:, :2])
    with pytest.raises(ValueError, match="0 sample"):
        enc.encode(X[:0])
    with pytest.raises(ValueError, match="Expected 2D array"):
        enc.encode(X[0])
