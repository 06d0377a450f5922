"""Embedding lookups (PyTorch's module path torch.nn.modules.sparse): Embedding lives in .linear;
EmbeddingBag is here.

EmbeddingBag reduces each bag of looked-up rows to one vector (sum, mean or max) without building the
(bags, bag length, dim) tensor for sum and mean: with bag[e] the bag of lookup e, out = M @ rows where
M[bag[e], e] is 1 (sum), 1/|bag| (mean) or per_sample_weights[e]. Max pads the bags to one length with -inf.
Lookups equal to padding_idx are left out of their bag; an empty bag gives zeros.
"""
import numpy as np

from ...autograd import no_grad
from ...ops.factory import empty, full, tensor
from ...ops.shape import cat
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .linear import Embedding  # noqa: F401  (re-exported: torch.nn.modules.sparse.Embedding)
from .module import Module

__all__ = ["Embedding", "EmbeddingBag"]


def _bags(input, offsets, include_last_offset):
    """(flat indices, bag id of each, number of bags) from PyTorch's 2-D or 1-D + offsets layouts."""
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             "fixed length sequences. However, found offsets of type Tensor")
        n_bags, length = input.shape
        return input.reshape(-1), np.repeat(np.arange(n_bags), length), n_bags
    if input.dim() != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}")
    if offsets is None:
        raise ValueError("offsets has to be a 1D Tensor but got None")
    if offsets.dim() != 1:
        raise ValueError("offsets has to be a 1D Tensor")
    starts = offsets.detach().cpu().numpy().astype(np.int64)
    n = input.shape[0]
    if len(starts) and (starts[0] != 0 or np.any(np.diff(starts) < 0) or starts[-1] > n):
        raise RuntimeError(f"offsets must start at 0, not decrease, and stay within the {n} indices; got "
                           f"{starts.tolist()}")
    ends = np.append(starts[1:], n)
    if include_last_offset:
        starts, ends = starts[:-1], ends[:-1]
    bag_of = np.repeat(np.arange(len(starts)), ends - starts)
    if include_last_offset:
        input = input[:int(ends[-1]) if len(ends) else 0]
    return input, bag_of, len(starts)


class EmbeddingBag(Module):
    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                 mode="mean", sparse=False, _weight=None, include_last_offset=False, padding_idx=None, device=None,
                 dtype=None):
        super().__init__()
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"mode has to be one of sum, mean or max, got {mode!r}")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise AssertionError("padding_idx must be within num_embeddings")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, scale_grad_by_freq
        self.mode, self.sparse, self.include_last_offset = mode, sparse, include_last_offset
        self.padding_idx = padding_idx
        if _weight is None:
            self.weight = Parameter(empty((num_embeddings, embedding_dim), device=device, dtype=dtype))
            self.reset_parameters()
        else:
            if list(_weight.shape) != [num_embeddings, embedding_dim]:
                raise AssertionError("Shape of weight does not match num_embeddings and embedding_dim")
            self.weight = Parameter(_weight)

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx].fill_(0)

    def forward(self, input, offsets=None, per_sample_weights=None):
        if per_sample_weights is not None and self.mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                      f"supported for mode='sum' (got mode='{self.mode}'). Please open a feature "
                                      f"request on GitHub.")
        flat, bag_of, n_bags = _bags(input, offsets, self.include_last_offset)
        rows = F.embedding(flat, self.weight, None, self.max_norm, self.norm_type, self.scale_grad_by_freq)
        keep = np.ones(len(bag_of), dtype=bool)
        if self.padding_idx is not None:
            keep = flat.detach().cpu().numpy() != self.padding_idx
        if self.mode == "max":
            return self._max(rows, bag_of, keep, n_bags)
        counts = np.bincount(bag_of[keep], minlength=n_bags)
        scale = 1.0 / np.maximum(counts, 1) if self.mode == "mean" else np.ones(n_bags)
        mixer = np.zeros((n_bags, len(bag_of)))
        mixer[bag_of[keep], np.nonzero(keep)[0]] = scale[bag_of[keep]]
        mixer = tensor(mixer, dtype=rows.dtype, device=rows.device)
        if per_sample_weights is not None:
            rows = rows * per_sample_weights.reshape(-1, 1)
        return mixer @ rows

    def _max(self, rows, bag_of, keep, n_bags):
        """Pad every bag to the longest with a -inf row, take the max; empty bags come out as zeros."""
        counts = np.bincount(bag_of[keep], minlength=n_bags)
        longest = max(int(counts.max()) if n_bags else 0, 1)
        slots = np.full((n_bags, longest), len(bag_of), dtype=np.int64)  # the -inf row by default
        kept = np.nonzero(keep)[0]
        position = np.arange(len(kept)) - np.repeat(np.cumsum(counts) - counts, counts)
        slots[bag_of[kept], position] = kept
        pad = full((1, rows.shape[1]), float("-inf"), dtype=rows.dtype, device=rows.device)
        grouped = cat([rows, pad])[tensor(slots.reshape(-1), device=rows.device)]
        out = grouped.reshape(n_bags, longest, rows.shape[1]).amax(1)
        empty_bags = tensor((counts == 0)[:, None], device=rows.device)
        return out.masked_fill(empty_bags, 0.0)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                        mode="mean", sparse=False, include_last_offset=False, padding_idx=None):
        if embeddings.dim() != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        bag = cls(rows, cols, max_norm, norm_type, scale_grad_by_freq, mode, sparse, embeddings,
                  include_last_offset, padding_idx)
        bag.weight.requires_grad = not freeze
        return bag

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        s += f", mode='{self.mode}'"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s

