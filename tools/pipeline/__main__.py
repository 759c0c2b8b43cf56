"""`python -m tools.pipeline ...` (what `./pipeline` runs)."""

import sys

from tools.pipeline.cli import main

sys.exit(main())
