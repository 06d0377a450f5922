"""Op families. Importing them attaches their Tensor methods and registers public ops."""
from . import elementwise, factory, inplace, reduce, shape, index, linalg  # noqa: F401
