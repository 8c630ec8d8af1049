"""Entry point: python3 -m gozoo_torch (the host runs it)."""

import faulthandler
import os
import signal
import sys

import gozoo_plugin

# Armed before torch is imported (seconds), so that a host that dies while
# the plugin starts takes the plugin with it.
gozoo_plugin.die_with_parent()

import torch  # noqa: E402

from .backbone import TorchBackbone  # noqa: E402

dump = os.environ.get("GOZOO_TORCH_TRACEBACKS")
if dump:
    # kill -USR1 PID writes every thread's stack to this file.
    faulthandler.register(signal.SIGUSR1, file=open(dump, "a"), all_threads=True)
threads = os.environ.get("GOZOO_TORCH_THREADS")
torch.set_num_threads(int(threads) if threads else max(1, os.cpu_count() or 1))
sys.exit(gozoo_plugin.serve(TorchBackbone))
