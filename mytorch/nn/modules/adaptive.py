"""AdaptiveLogSoftmaxWithLoss (Grave et al., 2017): a softmax over many classes, cheap for the frequent ones.

Classes are split by `cutoffs` into a shortlist [0, c0) and clusters [c0, c1), [c1, c2), ... The head scores
the shortlist and one entry per cluster; cluster i has its own two-layer tail, narrower by div_value**(i+1).
log p(class in cluster i) = log p_head(cluster i) + log p_tail_i(class)."""
from collections import namedtuple

from ...ops.shape import cat
from .. import functional as F
from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False, device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted in an increasing "
                             "order, where each value is between 1 and n_classes-1")
        self.in_features, self.n_classes = in_features, n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        kw = {"device": device, "dtype": dtype}
        self.head = Linear(in_features, self.head_size, bias=head_bias, **kw)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hidden, bias=False, **kw),
                                        Linear(hidden, size, bias=False, **kw)))

    def reset_parameters(self):
        self.head.reset_parameters()
        for i2h, h2o in self.tail:
            i2h.reset_parameters()
            h2o.reset_parameters()

    def forward(self, input_, target_):
        """(output: the log-probability of each row's target, loss: the mean of -output)."""
        if target_.ndim == 1:
            if input_.shape[0] != target_.shape[0]:
                raise RuntimeError("Input and target should have the same size in the batch dimension.")
            if input_.ndim != 2:
                raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with size "
                                   f"{list(input_.shape)}")
        elif target_.ndim == 0:
            if input_.ndim != 1:
                raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with size "
                                   f"{list(input_.shape)}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = target_.ndim > 0
        x = input_ if batched else input_.unsqueeze(0)
        target = target_ if batched else target_.unsqueeze(0)
        if target.numel() and (int(target.min()) < 0 or int(target.max()) >= self.n_classes):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but values in range "
                               f"[{int(target.min())}, {int(target.max())}] were found. ")
        # the head's entry for each row: its class in the shortlist, else its cluster's
        head_index = target.clone()
        output = None
        for i in range(self.n_clusters):
            low, high = self.cutoffs[i], self.cutoffs[i + 1]
            mask = (target >= low) & (target < high)
            rows = mask.nonzero()[:, 0]
            if rows.numel() == 0:
                continue
            head_index = head_index.masked_fill(mask, self.shortlist_size + i)
            tail = F.log_softmax(self.tail[i](x.index_select(0, rows)), dim=1)
            picked = tail.gather(1, (target.index_select(0, rows) - low).unsqueeze(1))[:, 0]
            output = (x.new_zeros(target.shape[0]) if output is None else output).index_add(0, rows, picked)
        head = F.log_softmax(self.head(x), dim=1).gather(1, head_index.unsqueeze(1))[:, 0]
        output = head if output is None else output + head
        loss = (-output).mean()
        return _ASMoutput(output if batched else output[0], loss)

    def _full_log_prob(self, x, head_output):
        head = F.log_softmax(head_output, dim=1)
        parts = [head[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster = self.shortlist_size + i
            parts.append(F.log_softmax(self.tail[i](x), dim=1) + head[:, cluster:cluster + 1])
        return cat(parts, 1)

    def log_prob(self, input):
        """log p of every class, (N, n_classes) for (N, in_features) input ((n_classes,) for 1-D input)."""
        batched = input.ndim > 1
        x = input if batched else input.unsqueeze(0)
        out = self._full_log_prob(x, self.head(x))
        return out if batched else out[0]

    def predict(self, input):
        """The most likely class of each row (the head decides rows whose best head entry is a shortlist class)."""
        batched = input.ndim > 1
        x = input if batched else input.unsqueeze(0)
        head_output = self.head(x)
        best = head_output.argmax(1)
        outside = best >= self.shortlist_size
        if bool(outside.any()):
            rows = outside.nonzero()[:, 0]
            full = self._full_log_prob(x.index_select(0, rows), head_output.index_select(0, rows))
            best = best.index_copy(0, rows, full.argmax(1))
        return best if batched else best[0]
