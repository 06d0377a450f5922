"""GradScaler: dynamic loss scaling for float16 training, with PyTorch's semantics.

float16 gradients underflow to zero below ~6e-8. Multiplying the loss by a large scale S keeps them in
range; before the optimizer step the gradients are divided by S again ("unscaled"). If any gradient is
inf/nan, S was too large: the step is skipped (weights and optimizer state untouched) and S is multiplied
by backoff_factor. After growth_interval clean steps in a row, S is multiplied by growth_factor.

    scaler = mytorch.amp.GradScaler("cpu")
    scaler.scale(loss).backward()
    scaler.unscale_(opt)            # optional: e.g. to clip the true gradients
    scaler.step(opt)                # skipped when a gradient is inf/nan
    scaler.update()

Each optimizer moves through the stages READY -> UNSCALED -> STEPPED between two update() calls.
"""
import enum
import warnings
from collections import defaultdict

import numpy as np

from .._array import move_array, xp_of
from ..tensor import Tensor

__all__ = ["GradScaler", "OptState"]


class OptState(enum.Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _fresh_state():
    return {"stage": OptState.READY, "found_inf_per_device": {}}


class GradScaler:
    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = str(device).split(":")[0]
        self._enabled = bool(enabled)
        if self._enabled and self._device == "cuda":
            from .. import cuda

            if not cuda.is_available():
                warnings.warn("mytorch.amp.GradScaler is enabled, but CUDA is not available.  Disabling.")
                self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise ValueError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise ValueError("The backoff factor must be < 1.0.")
        self._init_scale = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._init_growth_tracker = 0
        self._scale = None  # float32 scalar array on the device, made on the first scale()
        self._growth_tracker = None  # consecutive clean steps (int32 scalar array)
        self._per_optimizer_states = defaultdict(_fresh_state)
        self._last_step_skipped = False

    # ---- scaling the loss --------------------------------------------------------------------------
    def _lazy_init(self, like):
        xp = xp_of(like._data)
        self._scale = move_array(xp.full((), self._init_scale, dtype=np.float32), like.device)
        self._growth_tracker = move_array(xp.full((), self._init_growth_tracker, dtype=np.int32), like.device)

    def scale(self, outputs):
        """outputs * scale: a tensor, or a (nested) list/tuple/iterable of tensors."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init(outputs)
            return outputs * Tensor._make(_to_array_of(self._scale, outputs))
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        if hasattr(outputs, "__iter__") and not isinstance(outputs, (str, bytes)):
            return map(self.scale, outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def _check_scale_growth_tracker(self, funcname):
        fix = "This may indicate your script did not use scaler.scale(loss or outputs) earlier in the iteration."
        assert self._scale is not None, f"Attempted {funcname} but _scale is None.  " + fix
        assert self._growth_tracker is not None, f"Attempted {funcname} but _growth_tracker is None.  " + fix

    # ---- unscaling and stepping --------------------------------------------------------------------
    def _unscale_grads_(self, optimizer, inv_scale, allow_fp16):
        """Divide every gradient by the scale in place; returns {device: found_inf} (0-d float arrays)."""
        found = {}
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad._data
                if not allow_fp16 and g.dtype == np.float16:
                    raise ValueError("Attempting to unscale FP16 gradients.")
                xp = xp_of(g)
                key = str(p.grad.device)
                g *= _to_array_of(inv_scale, p.grad).astype(g.dtype)
                p.grad._version.value += 1
                bad = ~xp.isfinite(g).all()
                found[key] = bad if key not in found else found[key] | bad
        return {k: v.astype(np.float32) for k, v in found.items()}

    def unscale_(self, optimizer):
        """Divide optimizer's gradients by the scale (once per iteration), e.g. before clipping them."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        xp = xp_of(self._scale)
        inv_scale = xp.asarray(1.0 / self._scale.astype(np.float64), dtype=np.float32)  # PyTorch's rounding
        state["found_inf_per_device"] = self._unscale_grads_(optimizer, inv_scale, False)
        state["stage"] = OptState.UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """optimizer.step(*args, **kwargs) unless a gradient is inf/nan (then None: the step is skipped).
        Unscales the gradients first if unscale_() was not called this iteration."""
        if not self._enabled:
            self._last_step_skipped = False
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_scale_growth_tracker("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        assert len(state["found_inf_per_device"]) > 0, "No inf checks were recorded for this optimizer."
        skipped = bool(sum(float(v) for v in state["found_inf_per_device"].values()))
        retval = None if skipped else optimizer.step(*args, **kwargs)
        self._last_step_skipped = skipped
        state["stage"] = OptState.STEPPED
        return retval

    # ---- updating the scale ------------------------------------------------------------------------
    def update(self, new_scale=None):
        """Back off on any inf/nan seen this iteration, else count a clean step and grow every
        growth_interval clean steps. new_scale (a float or 1-element tensor) sets the scale directly."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, Tensor):
                reason = ("new_scale should be a float or a 1-element mytorch Tensor with requires_grad=False.")
                assert new_scale.numel() == 1, reason
                assert new_scale.requires_grad is False, reason
                self._scale[...] = float(new_scale.item())
            else:
                self._scale[...] = float(new_scale)
        else:
            found_infs = [v for s in self._per_optimizer_states.values() for v in s["found_inf_per_device"].values()]
            assert len(found_infs) > 0, "No inf checks were recorded prior to update."
            found_inf = sum(float(v) for v in found_infs) > 0
            self._update_scale(found_inf)
        self._per_optimizer_states = defaultdict(_fresh_state)

    def _update_scale(self, found_inf):
        if found_inf:
            self._scale *= np.float32(self._backoff_factor)
            self._growth_tracker[...] = 0
            return
        clean = int(self._growth_tracker) + 1
        if clean == self._growth_interval:
            grown = self._scale * np.float32(self._growth_factor)
            if bool(xp_of(grown).isfinite(grown)):
                self._scale[...] = grown
            clean = 0
        self._growth_tracker[...] = clean

    # ---- accessors and state -----------------------------------------------------------------------
    def get_scale(self):
        """The current scale as a Python float (1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else float(self._scale)

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = int(new_interval)

    def _get_growth_tracker(self):
        if not self._enabled:
            return 0
        return self._init_growth_tracker if self._growth_tracker is None else int(self._growth_tracker)

    def is_enabled(self):
        return self._enabled

    def state_dict(self):
        """PyTorch's keys: scale, growth_factor, backoff_factor, growth_interval, _growth_tracker
        (empty when disabled)."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale[...] = self._init_scale
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._growth_tracker is not None:
            self._growth_tracker[...] = self._init_growth_tracker

    def __getstate__(self):
        state = self.__dict__.copy()
        if self._enabled:
            assert len(self._per_optimizer_states) == 0, (
                "A GradScaler instance may only be pickled at the beginning of an iteration, or at the end after "
                "scaler.update().")
            # the device arrays are replaced by plain numbers (a pickle must not hold GPU memory)
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = state["_growth_tracker"] = None
        state["_per_optimizer_states"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._per_optimizer_states = defaultdict(_fresh_state)

    def __repr__(self):
        return (f"GradScaler(device='{self._device}', scale={self.get_scale()}, enabled={self._enabled}, "
                f"growth_interval={self._growth_interval})")


def _to_array_of(arr, like):
    """arr (a 0-d array) on the device of tensor `like` (the scale lives on one device; grads may not)."""
    return move_array(arr, like.device)
