"""Embedding lookups (PyTorch's module path torch.nn.modules.sparse; the classes live in .linear)."""
from .linear import Embedding  # noqa: F401

__all__ = ["Embedding"]
