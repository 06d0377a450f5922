"""torch.set_float32_matmul_precision / get_float32_matmul_precision: "highest" keeps float32 matmuls in
full float32; "high" and "medium" allow TF32 (PyTorch's own effect on CUDA), which mytorch's Triton
kernels honour through mytorch.backends.cuda.matmul.allow_tf32. numpy's CPU matmuls are always float32."""
import warnings

from . import backends

_CHOICES = ("highest", "high", "medium")


def set_float32_matmul_precision(precision):
    if precision not in _CHOICES:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      f"setFloat32MatmulPrecision call has no effect.", UserWarning, stacklevel=2)
        return
    backends._matmul_precision = precision
    backends.cuda.matmul.allow_tf32 = precision != "highest"


def get_float32_matmul_precision():
    if getattr(backends, "_matmul_precision", None) is None:
        return "highest" if not backends.cuda.matmul.allow_tf32 else "high"
    if backends.cuda.matmul.allow_tf32 == (backends._matmul_precision == "highest"):  # the flag was set directly
        return "highest" if not backends.cuda.matmul.allow_tf32 else "high"
    return backends._matmul_precision
