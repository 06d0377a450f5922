"""Fold and Unfold (PyTorch's module path torch.nn.modules.fold; the classes live in .conv)."""
from .conv import Fold, Unfold  # noqa: F401

__all__ = ["Fold", "Unfold"]
