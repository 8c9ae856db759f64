"""Child processes that end with their parent, however the parent ends.

A SIGKILLed `spatial-ros up` left its nodes answering topics, and a killed `data generate`
left its pool workers writing into a dataset that was being deleted: PR_SET_PDEATHSIG asks
the kernel to send the child SIGTERM when its parent dies.
"""

from __future__ import annotations

import ctypes
import signal
import sys

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None

#: False where the kernel call does not exist (not Linux): children then outlive a killed parent
SUPPORTED = _LIBC is not None


def die_with_parent() -> None:
    """Call in the child (async-signal-safe: usable as ``preexec_fn`` between fork and exec,
    or as a process pool's ``initializer``). A no-op where unsupported."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
