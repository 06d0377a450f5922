"""Keep freed CPU array memory in the process instead of returning it to the OS.

numpy allocates big arrays with malloc; glibc serves anything over 128 KiB-32 MiB with a fresh
mmap and unmaps it on free, so every op of a training step page-faults its output in again.
PyTorch avoids this with its own caching allocator; we get the same effect by raising glibc's
mmap and trim thresholds (measured: a small GPT training step went from ~470 ms to ~45 ms).
Set MYTORCH_MALLOC_TUNING=0 to leave malloc alone.
"""
import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_THRESHOLD = 1 << 30


def tune_malloc():
    """Returns True when glibc accepted the settings."""
    if os.environ.get("MYTORCH_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another libc without mallopt
        return False
    ok_mmap = mallopt(_M_MMAP_THRESHOLD, _THRESHOLD)
    ok_trim = mallopt(_M_TRIM_THRESHOLD, _THRESHOLD)
    return bool(ok_mmap and ok_trim)
