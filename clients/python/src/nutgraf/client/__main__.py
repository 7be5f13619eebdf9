"""`python -m nutgraf.client` runs the `nutgraf-client` command."""

import sys

from nutgraf.client.cli import main

sys.exit(main())
