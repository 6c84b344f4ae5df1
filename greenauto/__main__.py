"""``python -m greenauto``: the ``greenauto`` command."""

from __future__ import annotations

import sys

from greenauto.cli import main

if __name__ == "__main__":
    sys.exit(main())
