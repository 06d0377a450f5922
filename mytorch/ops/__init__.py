"""Op families. Importing them attaches their Tensor methods and registers public ops."""
from . import elementwise, factory, inplace, reduce, shape, index, linalg  # noqa: F401
from . import special_math, misc_ops, linalg_extra, native_norms  # noqa: F401,E402  (special functions, scans, linalg, ...)
from . import complex_ops, spectral  # noqa: F401,E402  (complex views, conj, angle: after special_math, whose real-only forms it extends; stft)
from . import inplace_variants  # noqa: F401,E402  (the remaining in-place methods: last, over the final methods)
