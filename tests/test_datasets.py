"""Bundled datasets and the CSV loader."""

from __future__ import annotations

import hashlib
from importlib import resources

import pandas as pd
import pytest

from greenauto.datasets import list_datasets, load_csv, load_dataset


def test_bundled_files_match_their_manifest() -> None:
    manifest = list_datasets()
    assert len(manifest) == 8
    folder = resources.files("greenauto.datasets.data")
    total = 0
    for name, row in manifest.iterrows():
        blob = folder.joinpath(row["file"]).read_bytes()
        total += len(blob)
        assert hashlib.sha256(blob).hexdigest() == row["sha256"], name
    assert total < 5_000_000
    assert folder.joinpath("wisdm_activity.readme.txt").is_file()  # its readme must travel


@pytest.mark.parametrize("name", sorted(list_datasets().index))
def test_load_dataset_shapes(name: str) -> None:
    row = list_datasets().loc[name]
    X, y = load_dataset(name)
    assert X.shape == (row["rows"], row["features"])
    assert y.name == "target"
    assert y.nunique() == row["classes"]
    assert (X.isna().any().any()) == (row["missing_values"] == "yes")


def test_unknown_dataset_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown dataset 'iris'; bundled ones are \['adult'"):
        load_dataset("iris")


def test_load_csv_any_file_and_target(tmp_path) -> None:
    path = tmp_path / "d.csv"
    pd.DataFrame({"f": [1, 2, 3], "label": ["a", "b", "a"]}).to_csv(path, index=False)
    X, y = load_csv(path, target="label")
    assert list(X.columns) == ["f"]
    assert y.tolist() == ["a", "b", "a"]


def test_load_csv_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="No such data file"):
        load_csv(tmp_path / "missing.csv")
    path = tmp_path / "d.csv"
    pd.DataFrame({"a": [1], "b": [2]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"has no target column 'y'; its columns are 'a', 'b'"):
        load_csv(path, target="y")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="is empty"):
        load_csv(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("a,target\n")
    with pytest.raises(ValueError, match="has a header but no rows"):
        load_csv(tmp_path / "header.csv")
    (tmp_path / "only.csv").write_text("target\n1\n")
    with pytest.raises(ValueError, match="only the target column"):
        load_csv(tmp_path / "only.csv")
