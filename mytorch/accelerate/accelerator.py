"""Accelerator: one object that makes a plain training loop run with mixed precision, gradient
accumulation, several processes (DDP), experiment tracking and resumable checkpoints
(Hugging Face Accelerate's API)."""
import contextlib
import math
import numbers
import os

from .. import _dtype
from ..nn.modules.module import Module
from ..optim.optimizer import Optimizer
from ..tensor import Tensor
from ..utils.data import DataLoader
from . import checkpointing, operations, tracking
from .data_loader import DataLoaderShard, default_shuffle_seed
from .optimizer import AcceleratedOptimizer, AcceleratedScheduler
from .state import GradientState, PartialState

MIXED_PRECISION = ("no", "fp16", "bf16")


def _ddp_class():
    try:
        from ..nn.parallel import DistributedDataParallel
    except ImportError:
        return None
    return DistributedDataParallel


def _is_scheduler(obj):
    """An LR scheduler: mytorch's, or anything scheduler-shaped (an optimizer, a step and a state dict)."""
    if isinstance(obj, (Optimizer, Module, DataLoader, AcceleratedOptimizer, AcceleratedScheduler)):
        return False
    return hasattr(obj, "optimizer") and callable(getattr(obj, "step", None)) and hasattr(obj, "state_dict")


class Accelerator:
    def __init__(self, mixed_precision=None, gradient_accumulation_steps=1, log_with=None, project_dir=None,
                 cpu=False, device_placement=True, step_scheduler_with_optimizer=True, log_wandb=False):
        mixed_precision = mixed_precision or os.environ.get("MYTORCH_MIXED_PRECISION") or "no"
        mixed_precision = str(mixed_precision).lower()
        if mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"mixed_precision must be one of {MIXED_PRECISION}, got {mixed_precision!r}")
        if mixed_precision == "bf16" and not _dtype._HAS_BF16:
            raise ImportError("mixed_precision='bf16' needs bfloat16 arrays, which numpy lacks: "
                              "pip install ml_dtypes")
        if not isinstance(gradient_accumulation_steps, int) or gradient_accumulation_steps < 1:
            raise ValueError(f"gradient_accumulation_steps must be a positive int, got {gradient_accumulation_steps!r}")
        if log_wandb:
            log_with = ["wandb"] + ([] if log_with is None else [n for n in
                                    ([log_with] if isinstance(log_with, str) else log_with) if n != "wandb"])
        self.mixed_precision = mixed_precision
        self.project_dir = project_dir
        self.device_placement = device_placement
        self.step_scheduler_with_optimizer = step_scheduler_with_optimizer
        self.state = PartialState(cpu=cpu)
        self.gradient_state = GradientState(gradient_accumulation_steps)
        self.log_with = tracking.resolve_log_with(log_with)
        self.trackers = []
        self.scaler = None
        if mixed_precision == "fp16":
            from ..amp import GradScaler

            self.scaler = GradScaler(device=self.device.type)
        self._models, self._optimizers, self._schedulers, self._dataloaders = [], [], [], []
        self._custom_objects = []

    # process layout ----------------------------------------------------------------------------
    device = property(lambda self: self.state.device)
    num_processes = property(lambda self: self.state.num_processes)
    process_index = property(lambda self: self.state.process_index)
    local_process_index = property(lambda self: self.state.local_process_index)
    is_main_process = property(lambda self: self.state.is_main_process)
    is_local_main_process = property(lambda self: self.state.is_local_main_process)
    use_distributed = property(lambda self: self.state.distributed)

    @property
    def sync_gradients(self):
        """True on the micro-step that completes an accumulation window (the optimizer steps then)."""
        return self.gradient_state.sync_gradients

    sync_grad = sync_gradients  # the original MyTorch name

    @property
    def gradient_accumulation_steps(self):
        return self.gradient_state.num_steps

    @gradient_accumulation_steps.setter
    def gradient_accumulation_steps(self, steps):
        self.gradient_state.num_steps = int(steps)

    @property
    def step(self):
        """Optimizer updates applied so far (skipped fp16 steps don't count)."""
        return max((opt.num_steps for opt in self._optimizers), default=0)

    @step.setter
    def step(self, value):
        for opt in self._optimizers:
            opt.num_steps = int(value)

    @property
    def optimizer_step_was_skipped(self):
        """Whether the last optimizer step was skipped because fp16 gradients overflowed."""
        return any(opt.step_was_skipped for opt in self._optimizers)

    # prepare -----------------------------------------------------------------------------------
    def prepare(self, *objects, device_placement=None):
        """Prepared versions of models, optimizers, DataLoaders and LR schedulers, in the order given."""
        placement = self.device_placement if device_placement is None else device_placement
        # schedulers go last: each is linked to the prepared optimizer it drives
        prepared = [obj if _is_scheduler(obj) else self._prepare_one(obj, placement) for obj in objects]
        prepared = [self._prepare_scheduler(obj) if _is_scheduler(obj) else obj for obj in prepared]
        return prepared[0] if len(prepared) == 1 else tuple(prepared)

    def _prepare_one(self, obj, placement):
        if isinstance(obj, Module):
            return self.prepare_model(obj, device_placement=placement)
        if isinstance(obj, Optimizer):
            return self._prepare_optimizer(obj)
        if isinstance(obj, DataLoader):
            return self.prepare_data_loader(obj, device_placement=placement)
        return obj  # already prepared, or something prepare() leaves alone

    def prepare_model(self, model, device_placement=None):
        if self.device_placement if device_placement is None else device_placement:
            model.to(self.device)
        if self.mixed_precision != "no":
            # the forward runs under autocast and hands back float32 outputs, as in Accelerate
            model.forward = operations.autocast_forward(model.forward, self.autocast)
        if self.state.distributed:
            ddp = _ddp_class()
            if ddp is None:
                raise RuntimeError("prepare(): a multi-process run needs mytorch.nn.parallel.DistributedDataParallel")
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            model = ddp(model, device_ids=device_ids)
        self._models.append(model)
        return model

    def _prepare_optimizer(self, optimizer):
        wrapped = AcceleratedOptimizer(optimizer, self.gradient_state, self.scaler)
        self._optimizers.append(wrapped)
        return wrapped

    def _prepare_scheduler(self, scheduler):
        inner = scheduler.optimizer
        owners = [opt for opt in self._optimizers if opt.optimizer is inner or opt is inner]
        wrapped = AcceleratedScheduler(scheduler, owners or self._optimizers, self.gradient_state,
                                       step_with_optimizer=self.step_scheduler_with_optimizer)
        self._schedulers.append(wrapped)
        return wrapped

    def prepare_data_loader(self, loader, device_placement=None):
        seed = self._broadcast_object(default_shuffle_seed(loader))  # every rank: the same order
        placement = self.device_placement if device_placement is None else device_placement
        shard = DataLoaderShard(loader, device=self.device, num_processes=self.num_processes,
                                process_index=self.process_index, gradient_state=self.gradient_state, seed=seed,
                                device_placement=placement)
        self._dataloaders.append(shard)
        return shard

    def register_for_checkpointing(self, *objects):
        """Objects with state_dict()/load_state_dict() saved and restored with save_state/load_state."""
        for obj in objects:
            if not (callable(getattr(obj, "state_dict", None)) and callable(getattr(obj, "load_state_dict", None))):
                raise TypeError(f"register_for_checkpointing: {type(obj).__name__} has no state_dict/load_state_dict")
            self._custom_objects.append(obj)

    def unwrap_model(self, model, keep_fp32_wrapper=True):
        """The user's module: DDP taken off (and, with keep_fp32_wrapper=False, the autocast forward too)."""
        ddp = _ddp_class()
        while ddp is not None and isinstance(model, ddp):
            model = model.module
        if not keep_fp32_wrapper:
            forward = model.__dict__.get("forward")
            original = getattr(forward, "_accelerate_original_forward", None)
            if original is not None:
                if getattr(original, "__self__", None) is model and original.__func__ is type(model).forward:
                    del model.__dict__["forward"]
                else:
                    model.forward = original
        return model

    # the training step -------------------------------------------------------------------------
    def _set_grad_sync(self, models, sync):
        for model in models:
            if hasattr(model, "require_backward_grad_sync"):
                model.require_backward_grad_sync = sync

    def backward(self, loss, **kwargs):
        """loss.backward(), with the loss divided by the accumulation steps and scaled for fp16. Outside
        accumulate() each call counts one micro-step."""
        state = self.gradient_state
        if not state.in_accumulate:
            # DDP decides at forward time whether a backward all-reduces, so without accumulate()
            # every micro-step syncs (correct, just more communication); accumulate() skips it
            state.advance()
        if self.gradient_accumulation_steps > 1:
            loss = loss / self.gradient_accumulation_steps
        if self.scaler is not None:
            loss = self.scaler.scale(loss)
        loss.backward(**kwargs)

    @contextlib.contextmanager
    def accumulate(self, *models):
        """One micro-step: decides sync_gradients and, on non-final micro-steps, turns off DDP's gradient
        all-reduce (no_sync) for the forward and backward inside."""
        state = self.gradient_state
        state.advance()
        models = models or tuple(self._models)
        with contextlib.ExitStack() as stack:
            if state.sync_gradients:
                self._set_grad_sync(models, True)
            else:
                for model in models:
                    if callable(getattr(model, "no_sync", None)):
                        stack.enter_context(model.no_sync())
            state.in_accumulate = True
            try:
                yield
            finally:
                state.in_accumulate = False

    @contextlib.contextmanager
    def no_sync(self, model):
        with model.no_sync() if callable(getattr(model, "no_sync", None)) else contextlib.nullcontext():
            yield

    def unscale_gradients(self, optimizer=None):
        if self.scaler is None:
            return
        optimizers = self._optimizers if optimizer is None else [optimizer]
        for opt in optimizers:
            self.scaler.unscale_(opt.optimizer if isinstance(opt, AcceleratedOptimizer) else opt)

    def clip_grad_norm_(self, parameters, max_norm=None, norm_type=2):
        """Clip the gradients' total norm to max_norm and return the norm before clipping (fp16
        gradients are unscaled first). Between accumulation boundaries nothing is clipped (the
        gradients are incomplete) and the current partial norm is returned. clip_grad_norm_(max_norm)
        clips all prepared models."""
        from ..nn.utils.clip_grad import clip_grads_with_norm_, get_total_norm

        if max_norm is None and isinstance(parameters, numbers.Number):
            parameters, max_norm = None, parameters
        if max_norm is None:
            raise TypeError("clip_grad_norm_() missing required argument: 'max_norm'")
        if parameters is None:
            parameters = [p for model in self._models for p in model.parameters()]
        params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
        if not self.sync_gradients:
            norm = get_total_norm([p.grad for p in params if p.grad is not None], norm_type)
            return norm / self.scaler.get_scale() if self.scaler is not None else norm
        self.unscale_gradients()
        grads = [p.grad for p in params if p.grad is not None]
        norm = get_total_norm(grads, norm_type)
        if self.scaler is not None and not math.isfinite(norm.item()):
            return norm  # an fp16 overflow: the optimizer step is skipped, nothing to clip
        clip_grads_with_norm_(params, max_norm, norm)
        return norm

    def clip_grad_value_(self, parameters, clip_value):
        from ..nn.utils.clip_grad import clip_grad_value_

        self.unscale_gradients()
        clip_grad_value_(parameters, clip_value)

    def autocast(self):
        """The autocast context of this run's mixed precision (a no-op for "no")."""
        if self.mixed_precision == "no":
            return contextlib.nullcontext()
        from ..amp import autocast

        dtype = _dtype.float16 if self.mixed_precision == "fp16" else _dtype.bfloat16
        return autocast(device_type=self.device.type, dtype=dtype)

    # across processes --------------------------------------------------------------------------
    def gather(self, tensor):
        """All processes' tensors concatenated along dim 0 (0-d tensors give one value per process)."""
        return operations.gather(tensor, self.num_processes)

    def gather_for_metrics(self, input_data, use_gather_object=False):
        """gather(), minus the samples the sharded loader repeated to fill the last round of an epoch.
        Only per-sample values (tensors with a batch dim) are trimmed; non-tensors go through
        all_gather_object."""
        leaves = []
        operations.recursively_apply(leaves.append, input_data, test=lambda x: True)
        if use_gather_object or not all(isinstance(x, Tensor) for x in leaves):
            data = operations.gather_object(input_data, self.num_processes)
            keep = self.gradient_state.remainder
            if self.num_processes > 1 and self.gradient_state.end_of_dataloader and keep > 0:
                data = data[:keep]
            return data
        data = self.gather(input_data)
        keep = self.gradient_state.remainder
        if self.num_processes == 1 or not self.gradient_state.end_of_dataloader or keep <= 0:
            return data
        dims = iter([x.dim() for x in leaves])
        return operations.recursively_apply(lambda t: t[:keep] if next(dims) > 0 else t, data)

    def reduce(self, tensor, reduction="mean"):
        """tensor summed ("sum") or averaged ("mean") over processes; "none" leaves it as is."""
        return operations.reduce(tensor, reduction, self.num_processes)

    def pad_across_processes(self, tensor, dim=0, pad_index=0):
        """tensor padded along `dim` to the largest size any process has (so it can be gathered)."""
        if self.num_processes == 1:
            return tensor
        from ..ops.factory import full
        from ..ops.shape import cat

        sizes = operations.gather_object([int(tensor.shape[dim])], self.num_processes)
        missing = max(sizes) - tensor.shape[dim]
        if missing == 0:
            return tensor
        shape = list(tensor.shape)
        shape[dim] = missing
        return cat([tensor, full(shape, pad_index, dtype=tensor.dtype, device=tensor.device)], dim=dim)

    def _broadcast_object(self, obj):
        if not self.state.distributed:
            return obj
        from .. import distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def _gather_object(self, obj):
        if not self.state.distributed:
            return [obj]
        from .. import distributed as dist

        out = [None] * self.num_processes
        dist.all_gather_object(out, obj)
        return out

    def wait_for_everyone(self):
        self.state.wait_for_everyone()

    @contextlib.contextmanager
    def main_process_first(self):
        """The main process runs the block first (e.g. to download or preprocess), then the others."""
        if not self.is_main_process:
            self.wait_for_everyone()
        yield
        if self.is_main_process:
            self.wait_for_everyone()

    @contextlib.contextmanager
    def local_main_process_first(self):
        if not self.is_local_main_process:
            self.wait_for_everyone()
        yield
        if self.is_local_main_process:
            self.wait_for_everyone()

    def print(self, *args, **kwargs):
        """print() on the main process only."""
        if self.is_main_process:
            print(*args, **kwargs)

    # trackers ----------------------------------------------------------------------------------
    def init_trackers(self, project_name, config=None, init_kwargs=None):
        """Start the trackers of log_with (main process only); config is stored as the run's hyper-parameters."""
        init_kwargs = init_kwargs or {}
        if not self.is_main_process:
            return
        for name in self.log_with:
            tracker = tracking.TRACKERS[name](project_name, project_dir=self.project_dir or ".",
                                              **init_kwargs.get(name, {}))
            if config is not None:
                tracker.store_init_configuration(dict(config))
            self.trackers.append(tracker)

    def get_tracker(self, name, unwrap=False):
        for tracker in self.trackers:
            if tracker.name == name:
                return tracker.tracker if unwrap else tracker
        raise ValueError(f"{name} is not an active tracker (active: {[t.name for t in self.trackers]})")

    def log(self, values, step=None, log_kwargs=None):
        """Log a dict of scalars (tensors are converted) to every tracker, on the main process."""
        if not self.is_main_process:
            return
        for tracker in self.trackers:
            tracker.log(values, step=step, **(log_kwargs or {}).get(tracker.name, {}))

    def end_training(self):
        for tracker in self.trackers:
            tracker.finish()
        self.trackers = []
        self.wait_for_everyone()

    # checkpoints -------------------------------------------------------------------------------
    def save_state(self, output_dir=None, extra_files=None):
        """Write a resumable checkpoint directory atomically (see mytorch/accelerate/checkpointing.py);
        returns its path. Without output_dir: {project_dir}/checkpoints/checkpoint_{step}."""
        if output_dir is None:
            if self.project_dir is None:
                raise ValueError("save_state() needs an output_dir (or an Accelerator project_dir)")
            output_dir = os.path.join(self.project_dir, "checkpoints", f"checkpoint_{self.step}")
        return checkpointing.save_accelerator_state(self, output_dir, extra_files)

    def load_state(self, input_dir):
        """Restore what save_state wrote into the prepared objects, RNG states and loader positions.
        Every file is checked against the sha256 recorded at save time first."""
        checkpointing.load_accelerator_state(self, input_dir)

    def save_model(self, model, save_directory):
        """The unwrapped model's weights as {save_directory}/model.safetensors (main process)."""
        from ..serialization import save_file

        if self.is_main_process:
            os.makedirs(save_directory, exist_ok=True)
            save_file(dict(self.unwrap_model(model).state_dict()), os.path.join(save_directory, "model.safetensors"))
        self.wait_for_everyone()

    def __repr__(self):
        return (f"Accelerator(device={self.device}, num_processes={self.num_processes}, "
                f"mixed_precision={self.mixed_precision!r}, "
                f"gradient_accumulation_steps={self.gradient_accumulation_steps})")
