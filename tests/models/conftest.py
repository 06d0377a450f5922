"""Model tests: tiny configs, transformers as the reference. TRITON_INTERPRET=1 lets the fused-kernel tests
run Triton's CPU interpreter (it must be set before a kernel module is imported)."""
import os
import sys

os.environ["TRITON_INTERPRET"] = "1"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
for _name in [m for m in sys.modules if m.startswith("mytorch.kernels.")]:
    del sys.modules[_name]  # imported earlier without the interpreter: re-import under it
