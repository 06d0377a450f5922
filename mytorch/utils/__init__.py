"""mytorch.utils: data loading (`mytorch.utils.data`)."""
from . import data  # noqa: F401
from . import checkpoint  # noqa: F401,E402  (activation checkpointing)
from . import dlpack  # noqa: F401,E402  (from_dlpack / to_dlpack)
