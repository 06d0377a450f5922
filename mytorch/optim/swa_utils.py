"""Stochastic weight averaging and EMA (torch.optim.swa_utils): AveragedModel keeps a running average of
a model's parameters (and optionally buffers), SWALR anneals the learning rate to a constant SWA rate, and
update_bn recomputes BatchNorm statistics for the averaged weights with one pass over the data."""
import copy
import itertools
import math

from ..autograd import no_grad
from ..nn.modules.module import Module
from ..ops.factory import tensor
from .lr_scheduler import LRScheduler

__all__ = ["AveragedModel", "SWALR", "update_bn", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn",
           "get_ema_avg_fn", "get_swa_avg_fn"]


def get_ema_avg_fn(decay=0.999):
    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


def get_ema_multi_avg_fn(decay=0.999):
    def ema_update(ema_params, current_params, num_averaged):
        with no_grad():
            if ema_params and (ema_params[0].is_floating_point() or ema_params[0].is_complex()):
                for e, c in zip(ema_params, current_params):
                    e.lerp_(c, 1 - decay)
            else:  # integer buffers (num_batches_tracked): the same blend, cast back
                for e, c in zip(ema_params, current_params):
                    e.copy_(e * decay + c * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn():
    def swa_update(averaged_params, current_params, num_averaged):
        n = float(num_averaged.item()) if hasattr(num_averaged, "item") else float(num_averaged)
        for a, c in zip(averaged_params, current_params):
            a.add_((c - a) / (n + 1))
    return swa_update


class AveragedModel(Module):
    """A copy of `model` whose parameters are the average (SWA, or any avg_fn such as EMA) of the values
    passed to update_parameters. Its forward is the copy's forward."""

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, device=device))
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _tensors(self, model):
        if self.use_buffers:
            return list(itertools.chain(model.parameters(), model.buffers()))
        return list(model.parameters())

    def update_parameters(self, model):
        mine = [t.detach() for t in self._tensors(self.module)]
        theirs = [t.detach().to(m.device) for t, m in zip(self._tensors(model), mine)]
        with no_grad():
            if int(self.n_averaged.item()) == 0:
                for m, t in zip(mine, theirs):
                    m.copy_(t)
            elif self.avg_fn is not None:
                for m, t in zip(mine, theirs):
                    m.copy_(self.avg_fn(m, t, self.n_averaged.to(m.device)))
            else:  # multi-tensor functions see one (device, dtype) group at a time, as in PyTorch
                groups = {}
                for m, t in zip(mine, theirs):
                    groups.setdefault((str(m.device), m.dtype), ([], []))
                    groups[(str(m.device), m.dtype)][0].append(m)
                    groups[(str(m.device), m.dtype)][1].append(t)
                for ms, ts in groups.values():
                    n = self.n_averaged.to(ms[0].device)
                    if self.multi_avg_fn is not None:
                        self.multi_avg_fn(ms, ts, n)
                    else:
                        swa = get_swa_avg_fn()
                        for m, t in zip(ms, ts):
                            m.copy_(swa(m, t, n))
            if not self.use_buffers:  # buffers are not averaged: keep them in step with the model's
                for b_mine, b_theirs in zip(self.module.buffers(), model.buffers()):
                    b_mine.copy_(b_theirs.detach().to(b_mine.device))
        self.n_averaged.add_(1)


def update_bn(loader, model, device=None):
    """One pass over `loader` in training mode to recompute every BatchNorm's running mean/variance as the
    plain average over the data (momentum None), then the model's previous mode and momenta are restored."""
    from ..nn.modules.normalization import _BatchNorm

    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm) and module.track_running_stats:
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    with no_grad():
        for batch in loader:
            x = batch[0] if isinstance(batch, (list, tuple)) else batch
            if device is not None:
                x = x.to(device)
            model(x)
    for module, m in momenta.items():
        module.momentum = m
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's lr from its current value to swa_lr over anneal_epochs ('cos' or 'linear'),
    then hold it there."""

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        lrs = swa_lr if isinstance(swa_lr, (list, tuple)) else [swa_lr] * len(optimizer.param_groups)
        if len(lrs) != len(optimizer.param_groups):
            raise ValueError(f"swa_lr must have the same length as optimizer.param_groups: swa_lr has {len(lrs)}, "
                             f"optimizer.param_groups has {len(optimizer.param_groups)}")
        for group, lr in zip(optimizer.param_groups, lrs):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must by one of 'cos' or 'linear', instead got {anneal_strategy}")
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        return swa_lr if alpha == 1 else (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(self.optimizer.param_groups, prev_lrs)]
