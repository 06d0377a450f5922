"""PixelShuffle and PixelUnshuffle (PyTorch's module path torch.nn.modules.pixelshuffle; the classes live in .misc)."""
from .misc import PixelShuffle, PixelUnshuffle  # noqa: F401

__all__ = ["PixelShuffle", "PixelUnshuffle"]
