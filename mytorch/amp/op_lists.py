"""Which ops autocast changes, per device type: PyTorch's lists (torch.amp docs, "Autocast Op Reference").

Policies:
- "lower": cast floating inputs (not float64) to the autocast dtype: the matmul-like ops, where half
  precision is fast (tensor cores) and its rounding is harmless.
- "fp32": cast floating inputs to float32: ops whose range or accuracy half precision ruins (exp, log,
  sums, softmax, norms, losses).
- "promote": run in the widest floating dtype among the inputs (float32 if any input is float32).
- "banned": raise (binary_cross_entropy on CUDA: use binary_cross_entropy_with_logits).
Ops not listed run in whatever dtype their inputs have (binary ops promote as usual: bf16 + fp32 -> fp32).
Only the ops mytorch has are listed; names are PyTorch's.
"""

_MATMUL_CPU = ("conv1d", "conv2d", "conv3d", "bmm", "mm", "baddbmm", "addmm", "addbmm", "linear", "matmul",
               "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "prelu", "scaled_dot_product_attention")

_LOSSES = ("mse_loss", "cosine_embedding_loss", "nll_loss", "hinge_embedding_loss", "poisson_nll_loss",
           "smooth_l1_loss", "cross_entropy", "l1_loss", "huber_loss", "margin_ranking_loss", "soft_margin_loss",
           "triplet_margin_loss", "kl_div", "binary_cross_entropy_with_logits", "multi_margin_loss",
           "multilabel_margin_loss")

CPU = {
    **dict.fromkeys(_MATMUL_CPU, "lower"),
    **dict.fromkeys(_LOSSES + ("binary_cross_entropy", "prod", "ctc_loss", "grid_sampler"), "fp32"),
}

CUDA = {
    **dict.fromkeys(_MATMUL_CPU + ("addmv", "addr", "einsum", "mv"), "lower"),
    **dict.fromkeys(_LOSSES + (
        "acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p", "reciprocal", "rsqrt",
        "sinh", "tan", "pow", "softplus", "layer_norm", "group_norm", "norm", "cosine_similarity", "logsumexp",
        # PyTorch's fp32_set_opt_dtype ops. PyTorch keeps an explicit dtype= argument of these; here the hook
        # sits in Function.apply, after that cast, so they run in float32 even then
        "prod", "softmax", "log_softmax", "cumprod", "cumsum", "sum", "pdist"), "fp32"),
    **dict.fromkeys(("dot", "bilinear", "grid_sampler"), "promote"),  # (binary elementwise ops promote anyway)
    "binary_cross_entropy": "banned",
}

POLICIES = {"cpu": CPU, "cuda": CUDA}


def function_ops():
    """Ops whose autocast hook sits in Function.apply (their entry points live in ops/ and need no
    argument checks first): {Function class: op name}."""
    from ..nn.functional import activation
    from ..ops import elementwise, reduce

    unary = {getattr(elementwise, name.capitalize()): name
             for name in ("acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p",
                          "reciprocal", "rsqrt", "sinh", "tan") if hasattr(elementwise, name.capitalize())}
    return {**unary, elementwise.Pow: "pow", reduce.Sum: "sum", reduce.Prod: "prod",
            reduce.Cumsum: "cumsum", reduce.Cumprod: "cumprod", reduce.LogSumExp: "logsumexp",
            reduce.Softmax: "softmax", reduce.LogSoftmax: "log_softmax", reduce.VectorNorm: "norm",
            reduce.NuclearNorm: "norm", activation.PReLU: "prelu", activation._OPS["softplus"]: "softplus"}
