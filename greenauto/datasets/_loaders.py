"""Loaders returning pandas ``X, y`` for the bundled datasets and for user CSV files."""

from __future__ import annotations

import csv
from importlib import resources
from os import PathLike
from pathlib import Path

import pandas as pd

__all__ = ["list_datasets", "load_csv", "load_dataset"]

_DATA = "greenauto.datasets.data"


def _manifest() -> list[dict[str, str]]:
    with resources.files(_DATA).joinpath("MANIFEST.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def list_datasets() -> pd.DataFrame:
    """Describe the bundled datasets.

    Returns
    -------
    datasets : pandas.DataFrame
        One row per dataset, indexed by name, with its size, number of classes, whether it has
        missing values, its source and its licence (the columns of ``MANIFEST.csv``).

    Examples
    --------
    >>> from greenauto.datasets import list_datasets
    >>> "spambase" in list_datasets().index
    True
    """
    frame = pd.DataFrame(_manifest()).set_index("name")
    for col in ("rows", "features", "numeric_features", "categorical_features", "classes"):
        frame[col] = frame[col].astype(int)
    return frame


def load_csv(
    path: str | PathLike[str], *, target: str | None = "target", encoding: str = "utf-8"
) -> tuple[pd.DataFrame, pd.Series | None]:
    """Read a CSV file (plain or compressed) and split off its target column.

    Parameters
    ----------
    path : str or path-like
        The file; compression is inferred from the suffix (``.gz``, ``.zip``, ...).
    target : str or None, default="target"
        Name of the column holding the class labels; None: the file has none (``y`` is None).
    encoding : str, default="utf-8"
        The file's text encoding (``"latin-1"``, ``"cp1252"``, ...).

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, n_features)
        Every other column, as pandas reads it (strings stay strings; empty fields are NaN).
    y : pandas.Series of shape (n_samples,)
        The target column.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file has no rows, no feature column, or no column named ``target``, or is
        not text in ``encoding`` (the message names the byte and the option).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such data file: {str(path)!r}.")
    try:
        frame = pd.read_csv(path, encoding=encoding)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{str(path)!r} is empty: no header and no rows.") from None
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start : exc.start + 1].hex()
        raise ValueError(
            f"{str(path)!r} is not {encoding} text (byte 0x{byte} at position {exc.start}); "
            "give its encoding: encoding='latin-1' (on the command line --encoding latin-1)."
        ) from None
    except LookupError:
        raise ValueError(f"Unknown text encoding {encoding!r}.") from None
    if target is None:
        if frame.shape[0] == 0:
            raise ValueError(f"{str(path)!r} has a header but no rows.")
        return frame, None
    if target not in frame.columns:
        shown = ", ".join(map(repr, frame.columns[:20]))
        more = f" and {len(frame.columns) - 20} more" if len(frame.columns) > 20 else ""
        raise ValueError(
            f"{str(path)!r} has no target column {target!r}; its columns are {shown}{more}."
        )
    if frame.shape[1] < 2:
        raise ValueError(f"{str(path)!r} has only the target column {target!r}; no features.")
    if frame.shape[0] == 0:
        raise ValueError(f"{str(path)!r} has a header but no rows.")
    return frame.drop(columns=[target]), frame[target]


def load_dataset(name: str) -> tuple[pd.DataFrame, pd.Series]:
    """Load a bundled dataset by name.

    Parameters
    ----------
    name : str
        One of ``list_datasets().index``: ``"adult"``, ``"breast_cancer_wisconsin"``,
        ``"car_evaluation"``, ``"letter"``, ``"magic"``, ``"penguins"``, ``"spambase"``,
        ``"wisdm_activity"``.

    Returns
    -------
    X : pandas.DataFrame
        The features (numeric columns as numbers, categorical ones as strings, NaN where
        missing).
    y : pandas.Series
        The class labels, named ``"target"``.

    Examples
    --------
    >>> from greenauto.datasets import load_dataset
    >>> X, y = load_dataset("penguins")
    >>> X.shape, y.nunique()
    ((344, 7), 3)
    """
    files = {row["name"]: row["file"] for row in _manifest()}
    if name not in files:
        raise ValueError(f"Unknown dataset {name!r}; bundled ones are {sorted(files)}.")
    with resources.as_file(resources.files(_DATA).joinpath(files[name])) as path:
        return load_csv(path)
