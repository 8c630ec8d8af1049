"""Entry point: python3 -m gozoo_torch (the host runs it)."""

import sys

from .server import main

sys.exit(main())
