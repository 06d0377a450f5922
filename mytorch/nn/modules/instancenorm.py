"""Instance normalization (PyTorch's module path torch.nn.modules.instancenorm; the classes live in .normalization)."""
from .normalization import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d  # noqa: F401

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]
