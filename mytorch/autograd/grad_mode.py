"""Grad mode: whether ops record a graph. `no_grad`, `enable_grad`, `set_grad_enabled`,
`inference_mode` work as context managers and as decorators, like PyTorch's."""
import functools
import inspect
import threading

_state = threading.local()


def is_grad_enabled():
    return getattr(_state, "enabled", True)


def _set(mode):
    _state.enabled = bool(mode)


def is_inference_mode_enabled():
    return getattr(_state, "inference", False)


class _GradModeContext:
    """Base: a context manager that sets grad mode on enter and restores it on exit."""

    mode = True

    def __enter__(self):
        self._prev = is_grad_enabled()
        _set(self.mode)
        return self

    def __exit__(self, *exc):
        _set(self._prev)
        return False

    def __call__(self, fn):
        if inspect.isclass(fn):
            raise TypeError(f"{type(self).__name__} decorates functions, not classes")
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen_wrapper(*args, **kwargs):
                gen = fn(*args, **kwargs)
                with self.clone():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        gen.close()
                        raise
                    with self.clone():
                        try:
                            response = gen.send(request)
                        except StopIteration as stop:
                            return stop.value

            return gen_wrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)

        return wrapper

    def clone(self):
        return type(self)()


class no_grad(_GradModeContext):
    """Disable graph recording: results of ops have requires_grad=False."""

    mode = False


class enable_grad(_GradModeContext):
    """Re-enable graph recording inside a no_grad block."""

    mode = True


class set_grad_enabled(_GradModeContext):
    """`set_grad_enabled(False)` as a function call, a context manager or a decorator."""

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled() expects a bool, got {type(mode).__name__}")
        self._prev = is_grad_enabled()
        self.mode = mode
        _set(mode)  # takes effect immediately when called as a function

    def __enter__(self):
        return self

    def clone(self):
        return set_grad_enabled(self.mode)


class inference_mode(_GradModeContext):
    """Like no_grad (mytorch has no separate inference tensors); `inference_mode(False)` is a no-op."""

    def __init__(self, mode=True):
        self.mode = not mode
        self._enabled = mode

    def __enter__(self):
        self._prev_inf = is_inference_mode_enabled()
        _state.inference = self._enabled or self._prev_inf
        if self._enabled:
            return super().__enter__()
        self._prev = is_grad_enabled()
        return self

    def __exit__(self, *exc):
        _state.inference = self._prev_inf
        _set(self._prev)
        return False

    def clone(self):
        return inference_mode(self._enabled)
