"""``python -m skrec``: the same as the ``skrec`` console script."""

import sys

from ._cli import main

sys.exit(main())
