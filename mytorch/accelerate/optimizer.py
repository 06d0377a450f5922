"""The prepared optimizer and LR scheduler: they act only when an accumulation window completes."""


class AcceleratedOptimizer:
    """Wraps an optimizer. `step()` and `zero_grad()` no-op between accumulation boundaries; with a
    GradScaler, `step()` unscales, skips the update on inf/nan gradients and updates the scale."""

    def __init__(self, optimizer, gradient_state, scaler=None):
        self.optimizer = optimizer
        self.gradient_state = gradient_state
        self.scaler = scaler
        self.step_was_skipped = False
        self.num_steps = 0  # optimizer updates actually applied

    # the wrapped optimizer's public attributes, so schedulers and user code see one object
    @property
    def param_groups(self):
        return self.optimizer.param_groups

    @param_groups.setter
    def param_groups(self, groups):
        self.optimizer.param_groups = groups

    @property
    def state(self):
        return self.optimizer.state

    @property
    def defaults(self):
        return self.optimizer.defaults

    def __getattr__(self, name):  # only reached for names this wrapper does not define
        if name == "optimizer":
            raise AttributeError(name)
        return getattr(self.optimizer, name)

    def add_param_group(self, param_group):
        self.optimizer.add_param_group(param_group)

    def state_dict(self):
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict):
        self.optimizer.load_state_dict(state_dict)

    def zero_grad(self, set_to_none=True):
        if self.gradient_state.sync_gradients:
            self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        if not self.gradient_state.sync_gradients:
            return None  # step_was_skipped keeps describing the last real step
        if self.scaler is not None:
            out = self.scaler.step(self.optimizer, closure) if closure is not None else self.scaler.step(self.optimizer)
            self.scaler.update()
            self.step_was_skipped = bool(getattr(self.scaler, "_last_step_skipped", False))
        else:
            out = self.optimizer.step(closure) if closure is not None else self.optimizer.step()
            self.step_was_skipped = False
        if not self.step_was_skipped:
            self.num_steps += 1
        return out

    def __repr__(self):
        return f"AcceleratedOptimizer({self.optimizer!r})"


class AcceleratedScheduler:
    """Wraps an LR scheduler. With step_with_optimizer (the default) `step()` runs once per optimizer
    update: not between accumulation boundaries, and not when an fp16 step was skipped for inf/nan
    gradients, so the schedule counts real updates."""

    def __init__(self, scheduler, optimizers, gradient_state, step_with_optimizer=True):
        self.scheduler = scheduler
        self.optimizers = optimizers
        self.gradient_state = gradient_state
        self.step_with_optimizer = step_with_optimizer

    def step(self, *args, **kwargs):
        if self.step_with_optimizer:
            if not self.gradient_state.sync_gradients:
                return
            if any(opt.step_was_skipped for opt in self.optimizers):
                return
        self.scheduler.step(*args, **kwargs)

    def __getattr__(self, name):
        if name == "scheduler":
            raise AttributeError(name)
        return getattr(self.scheduler, name)

    def get_last_lr(self):
        return self.scheduler.get_last_lr()

    def state_dict(self):
        return self.scheduler.state_dict()

    def load_state_dict(self, state_dict):
        self.scheduler.load_state_dict(state_dict)

    def __repr__(self):
        return f"AcceleratedScheduler({self.scheduler!r})"
