"""Real classification datasets bundled with greenauto, and a loader for any CSV file."""

from greenauto.datasets._loaders import list_datasets, load_csv, load_dataset

__all__ = ["list_datasets", "load_csv", "load_dataset"]
