"""Entry point: python3 -m gozoo_torch (the host runs it)."""

import sys

from . import channel

# Armed before torch is imported (seconds), so that a host that dies while
# the plugin starts takes the plugin with it.
channel.die_with_parent()

from .server import main  # noqa: E402

sys.exit(main())
