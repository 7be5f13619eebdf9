"""`python -m nutgraf` runs the CLI."""

import sys

from nutgraf.cli import main

sys.exit(main())
