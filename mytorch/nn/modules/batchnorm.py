"""Batch normalization (PyTorch's module path torch.nn.modules.batchnorm; the classes live in .normalization)."""
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, _BatchNorm, _NormBase  # noqa: F401

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]
