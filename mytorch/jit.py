"""torch.jit, the way mytorch.compile is: scripts that decorate or script their models still run, eagerly.
There is no TorchScript compiler and no TorchScript file format here: `script` and `trace` return what
they are given (a module keeps its parameters and state_dict keys), `save` / `load` raise."""
import typing

Final = typing.Final


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Returns obj itself: mytorch runs it eagerly."""
    return obj


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-5,
          strict=True, _force_outplace=False, _module_class=None, _compilation_unit=None, example_kwarg_inputs=None,
          _store_inputs=True):
    """Returns func itself (no graph is recorded): mytorch runs it eagerly."""
    return func


def script_if_tracing(fn):
    return fn


def is_scripting():
    return False


def is_tracing():
    return False


def _identity_decorator(fn=None, **kwargs):
    if fn is None:
        return lambda f: f
    return fn


ignore = unused = export = _identity_decorator


def annotate(the_type, the_value):
    return the_value


def interface(obj):
    return obj


def save(m, f, _extra_files=None):
    raise RuntimeError("mytorch has no TorchScript format: save the weights with mytorch.save(model.state_dict(), f)")


def load(f, map_location=None, _extra_files=None, _restore_shapes=False):
    raise RuntimeError("mytorch cannot load TorchScript archives: load a state_dict saved with mytorch.save, or "
                       "export the weights from PyTorch as safetensors")
