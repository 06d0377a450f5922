"""Kernel tests run Triton's CPU interpreter: TRITON_INTERPRET must be set before a kernel module is
imported, because triton.jit picks interpreter or compiler at decoration time."""
import os
import sys

os.environ["TRITON_INTERPRET"] = "1"
for _name in [m for m in sys.modules if m.startswith("mytorch.kernels.")]:
    del sys.modules[_name]  # imported earlier without the interpreter: re-import under it
