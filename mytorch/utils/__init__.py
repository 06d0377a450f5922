"""mytorch.utils: data loading (`mytorch.utils.data`)."""
from . import data  # noqa: F401
