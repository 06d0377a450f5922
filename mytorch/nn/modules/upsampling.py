"""Upsampling layers (PyTorch's module path torch.nn.modules.upsampling; the classes live in .pooling)."""
from .pooling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d  # noqa: F401

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]
