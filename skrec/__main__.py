"""``python -m skrec``: the same as the ``skrec`` console script."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
