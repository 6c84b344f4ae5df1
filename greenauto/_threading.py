"""Thread-count conventions shared by every kernel call."""

from __future__ import annotations

import os

__all__ = ["effective_n_threads"]


def effective_n_threads(n_jobs: int | None) -> int:
    """Turn a scikit-learn style ``n_jobs`` into a positive thread count.

    ``None`` means 1 (greenauto measures and deploys single-threaded by default), ``-1`` all
    cores, ``-2`` all but one, and so on.
    """
    if n_jobs is None:
        return 1
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use None, a positive int or -1.")
    if n_jobs > 0:
        return int(n_jobs)
    return max(1, (os.cpu_count() or 1) + 1 + int(n_jobs))
