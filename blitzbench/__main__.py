"""``python -m blitzbench`` is the ``blitzbench`` command (the suite's own subprocesses use it)."""

import sys

from blitzbench.cli.main import main

sys.exit(main())
