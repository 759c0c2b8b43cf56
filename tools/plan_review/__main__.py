"""Entry point for `python -m tools.plan_review`."""

import sys

from tools.plan_review.cli import main

sys.exit(main())
