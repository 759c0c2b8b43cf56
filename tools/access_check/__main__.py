"""Entry point for `python -m tools.access_check`."""

import sys

from tools.access_check.cli import main

sys.exit(main())
