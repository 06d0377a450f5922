"""The torch.<name> forms of functional ops whose signature differs from nn.functional's: PyTorch exposes its
ATen ops there (torch.dropout(input, p, train), torch.batch_norm(..., cudnn_enabled), losses with an int
reduction, ...). Each is a thin call into the nn.functional op. The ops whose torch.<name> is the nn.functional
function itself are listed in mytorch/__init__.py's _NN_FUNCTIONAL_AT_TOP."""
import warnings

import numpy as np

from ..._array import xp_of
from ...tensor import Tensor
from .. import functional as F
from .embedding_bag import _bags, bag_max  # (the submodules' names are taken by their functions in F)
from .linear import _alpha_dropout, _dropout, _feature_mask_shape, _renorm_rows

_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}  # ATen's Reduction enum


def _reduction(name, reduction, position):
    if not isinstance(reduction, (int, np.integer)) or isinstance(reduction, bool) or reduction not in _REDUCTIONS:
        raise TypeError(f"{name}(): argument 'reduction' (position {position}) must be int, not "
                        f"{type(reduction).__name__}")
    return _REDUCTIONS[int(reduction)]


# convolution ---------------------------------------------------------------------------------------------
def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    """conv{1,2,3}d, or conv_transpose{1,2,3}d when transposed, by the weight's number of spatial dims."""
    n = weight.ndim - 2
    if n not in (1, 2, 3):
        raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to conv{max(n, 1)}d, but got input of "
                           f"size: {list(input.shape)}")
    if transposed:
        return getattr(F, f"conv_transpose{n}d")(input, weight, bias, stride, padding, output_padding, groups,
                                                 dilation)
    return getattr(F, f"conv{n}d")(input, weight, bias, stride, padding, dilation, groups)


# normalization -------------------------------------------------------------------------------------------
def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled):
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps, cudnn_enabled):
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05, cudnn_enable=True):
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05, cudnn_enabled=True):
    return F.group_norm(input, num_groups, weight, bias, eps)


# dropout: ATen's forms (train is required; p is checked even when not training) ---------------------------
def _check_p(p):
    if not 0 <= p <= 1:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")


def _feature_shape(input, p, train):
    if train and 0 < p < 1 and input.numel() and input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return _feature_mask_shape(input, True)


def _dropout_variant(body, inplace, feature):
    """torch.<kind>dropout[_](input, p, train): F's body over the whole input or (feature) whole channels."""
    def op(input, p, train):
        _check_p(p)
        return body(input, p, train, inplace, _feature_shape(input, p, train) if feature else input.shape)
    return op


dropout, dropout_ = _dropout_variant(_dropout, False, False), _dropout_variant(_dropout, True, False)
feature_dropout, feature_dropout_ = _dropout_variant(_dropout, False, True), _dropout_variant(_dropout, True, True)
alpha_dropout, alpha_dropout_ = _dropout_variant(_alpha_dropout, False, False), _dropout_variant(_alpha_dropout,
                                                                                                 True, False)
feature_alpha_dropout = _dropout_variant(_alpha_dropout, False, True)
feature_alpha_dropout_ = _dropout_variant(_alpha_dropout, True, True)
for _name in ("dropout", "dropout_", "feature_dropout", "feature_dropout_", "alpha_dropout", "alpha_dropout_",
              "feature_alpha_dropout", "feature_alpha_dropout_"):
    globals()[_name].__name__ = globals()[_name].__qualname__ = _name


# activations without F's inplace flag --------------------------------------------------------------------
def selu(input):
    return F.selu(input)


def celu(input, alpha=1.0):
    return F.celu(input, alpha)


def threshold(input, threshold, value):
    return F.threshold(input, threshold, value)


# embeddings ----------------------------------------------------------------------------------------------
def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """weight[indices]; padding_idx < 0 means none (ATen's convention)."""
    return F.embedding(indices, weight, padding_idx if padding_idx >= 0 else None,
                       scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


def embedding_renorm_(input, indices, max_norm, norm_type):
    """Scale (in place, untracked) the rows of input that indices names to norm max_norm at most."""
    _renorm_rows(input, indices, max_norm, norm_type)
    return input


def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """(output, offset2bag, bag_size, max_indices) as PyTorch's CPU kernel: the bag of each lookup (empty for
    a float32/16 sum without padding_idx), the number of kept lookups per bag (zeros for a sum), and for max the weight
    row that gave each (bag, column) (for sum and mean, bag_size again)."""
    name = {0: "sum", 1: "mean", 2: "max"}[mode]
    output = F.embedding_bag(indices, weight, offsets, None, 2, scale_grad_by_freq, name, sparse, per_sample_weights,
                             include_last_offset, padding_idx)
    flat, bag_of, n_bags = _bags(indices, offsets if indices.ndim == 1 else None, include_last_offset)
    xp = xp_of(flat)
    pad = None if padding_idx is None else padding_idx % weight.shape[0]
    keep = flat != pad if pad is not None else xp.ones(len(flat), dtype=bool)
    fast_sum = mode == 0 and pad is None and weight._data.dtype != np.float64  # PyTorch's kernel skips offset2bag
    offset2bag = xp.zeros(0, np.int64) if fast_sum else bag_of.astype(np.int64)
    counts = xp.bincount(bag_of[keep], minlength=n_bags).astype(np.int64) if len(flat) else xp.zeros(n_bags,
                                                                                                      np.int64)
    bag_size = xp.zeros(n_bags, np.int64) if mode == 0 else counts
    if mode == 2:
        _, argmax = bag_max(weight._data[flat], bag_of, keep, counts, n_bags)
        max_indices = xp.where(argmax >= 0, flat[xp.maximum(argmax, 0)], 0).astype(np.int64)
    else:
        max_indices = bag_size.copy()
    return (output,) + tuple(Tensor._make(a) for a in (offset2bag, bag_size, max_indices))


# losses with ATen's int reduction (0 none, 1 mean, 2 sum). Left out, torch.<loss>'s reduction acts as 0 (none),
# not the schema's Mean: PyTorch's Python binding reads that default as 0, so these do too.
def kl_div(input, target, reduction=0, *, log_target=False):
    with warnings.catch_warnings():  # F's warning about 'mean' vs 'batchmean' is nn.functional's, not ATen's
        warnings.simplefilter("ignore")
        return F.kl_div(input, target, reduction=_reduction("kl_div", reduction, 3), log_target=log_target)


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=0):
    return F.margin_ranking_loss(input1, input2, target, margin,
                                 reduction=_reduction("margin_ranking_loss", reduction, 5))


def hinge_embedding_loss(input, target, margin=1.0, reduction=0):
    return F.hinge_embedding_loss(input, target, margin, reduction=_reduction("hinge_embedding_loss", reduction, 4))


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=0):
    return F.cosine_embedding_loss(input1, input2, target, margin,
                                   reduction=_reduction("cosine_embedding_loss", reduction, 5))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-06, swap=False, reduction=0):
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                 reduction=_reduction("triplet_margin_loss", reduction, 8))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps,
                              reduction=_reduction("poisson_nll_loss", reduction, 6))


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=0):
    return F.binary_cross_entropy_with_logits(input, target, weight, pos_weight=pos_weight,
                                              reduction=_reduction("binary_cross_entropy_with_logits", reduction, 5))


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=0, zero_infinity=False):
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                      _reduction("ctc_loss", reduction, 6), zero_infinity)


# pooling: stride=() means the kernel size; the *_with_indices and adaptive max forms return (out, indices) ------
def _pool(n):
    def pool(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
        return getattr(F, f"max_pool{n}d")(input, kernel_size, stride or None, padding, dilation, ceil_mode)

    pool.__name__ = pool.__qualname__ = f"max_pool{n}d"
    return pool


max_pool1d, max_pool2d, max_pool3d = _pool(1), _pool(2), _pool(3)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool1d(input, kernel_size, stride or None, padding, dilation, ceil_mode, return_indices=True)


def adaptive_max_pool1d(input, output_size):
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)
