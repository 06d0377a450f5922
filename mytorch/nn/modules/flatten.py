"""Flatten and Unflatten (PyTorch's module path torch.nn.modules.flatten; the classes live in .linear)."""
from .linear import Flatten, Unflatten  # noqa: F401

__all__ = ["Flatten", "Unflatten"]
