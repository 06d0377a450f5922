"""SyncBatchNorm: BatchNorm whose batch statistics are those of the whole global batch, all ranks together.

In training with an initialized process group of more than one rank, each rank's per-channel sum, sum of
squares and count are all-reduced before normalizing, and backward all-reduces the two per-channel sums
its input gradient needs:
    mean = S1 / n,  var = S2 / n - mean^2,  xhat = (x - mean) * rstd
    dx = rstd * (dy * w - (sum(dy * w) + xhat * sum(dy * w * xhat)) / n)      (sums over all ranks)
Otherwise (evaluation, one process) it is exactly BatchNorm. Unlike PyTorch, which refuses CPU tensors
here, gloo (CPU) process groups work as well as NCCL ones.
"""
import numpy as np

from ...autograd.function import Function
from ...tensor import Tensor
from .normalization import _BatchNorm


def _all_reduce(array, group):
    from ... import distributed as dist

    t = Tensor._make(array)
    dist.all_reduce(t, group=group)
    return t._data


class _SyncBatchNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps, group, stats_out):
        xp = np if type(x) is np.ndarray else __import__("cupy")
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        acc = np.float32 if x.dtype.itemsize < 4 else x.dtype
        xs = x.astype(acc, copy=False)
        count = np.prod([x.shape[a] for a in axes])
        local = xp.concatenate([xs.sum(axes), (xs * xs).sum(axes), xp.asarray([count], dtype=acc)])
        total = _all_reduce(local, group)
        c = x.shape[1]
        n = total[2 * c]
        mean = total[:c] / n
        var = xp.maximum(total[c:2 * c] / n - mean * mean, 0)
        stats_out.append((mean, var, n))
        rstd = 1 / xp.sqrt(var + eps)
        xhat = (xs - mean.reshape(shape)) * rstd.reshape(shape)
        y = xhat if weight is None else xhat * weight.reshape(shape)
        if bias is not None:
            y = y + bias.reshape(shape)
        ctx.save_for_backward(x, weight, mean, rstd)
        ctx.meta = (axes, shape, n, group)
        return y.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, dy):
        x, weight, mean, rstd = ctx.saved_tensors
        axes, shape, n, group = ctx.meta
        xp = np if type(x) is np.ndarray else __import__("cupy")
        xhat = (x.astype(mean.dtype, copy=False) - mean.reshape(shape)) * rstd.reshape(shape)
        dyf = dy.astype(mean.dtype, copy=False)
        db = dyf.sum(axes)
        dw = (dyf * xhat).sum(axes)
        g = dyf if weight is None else dyf * weight.reshape(shape)
        wvec = 1 if weight is None else weight
        sums = _all_reduce(xp.concatenate([db * wvec, dw * wvec]), group)
        c = x.shape[1]
        dx = rstd.reshape(shape) * (g - (sums[:c].reshape(shape) + xhat * sums[c:].reshape(shape)) / n)
        need = ctx.needs_input_grad
        return (dx.astype(x.dtype, copy=False) if need[0] else None,
                dw.astype(weight.dtype) if weight is not None and need[1] else None,
                db.astype(dy.dtype) if need[2] else None, None, None, None)


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over N, C, * inputs with statistics synchronized across the process group in training."""

    def __init__(self, num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")

    def _synced(self):
        from ... import distributed as dist

        return self.training and dist.is_available() and dist.is_initialized() and \
            dist.get_world_size(self.process_group) > 1

    def forward(self, input):
        self._check_input_dim(input)
        if input.shape[1] != self.num_features:
            raise ValueError(f"expected input with {self.num_features} channels, got {input.shape[1]}")
        if not self._synced():
            return super().forward(input)
        stats = []
        out = _SyncBatchNorm.apply(input, self.weight, self.bias, self.eps, self.process_group, stats)
        if self.track_running_stats:
            from ...autograd import no_grad
            from ..functional.normalization import _update_running

            mean, var, n = stats[0]
            with no_grad():
                momentum = self._momentum()  # also counts the batch
                _update_running(self.running_mean, mean, momentum)
                _update_running(self.running_var, var * (n / max(n - 1, 1)), momentum)
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """A copy of the module tree with every BatchNorm*D replaced by a SyncBatchNorm sharing its tensors."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                      process_group)
            if module.affine:
                out.weight, out.bias = module.weight, module.bias
            out.running_mean, out.running_var = module.running_mean, module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out


