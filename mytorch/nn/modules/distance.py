"""Distances between batches of vectors (PyTorch's module path torch.nn.modules.distance; the classes live in .loss)."""
from .loss import PairwiseDistance, CosineSimilarity  # noqa: F401

__all__ = ["PairwiseDistance", "CosineSimilarity"]
