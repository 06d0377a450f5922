"""torch.utils.hooks: RemovableHandle, what every register_*_hook of modules and optimizers returns."""
import weakref

__all__ = ["RemovableHandle"]


def _ref(d):
    try:
        return weakref.ref(d)
    except TypeError:  # a plain dict can't be weakly referenced: hold it
        return lambda: d


class RemovableHandle:
    """`handle.remove()` (or leaving `with handle:`) takes the hook out of hooks_dict and of extra_dict
    (a dict, or a list of dicts, that hold it under the same id). Holds the dicts weakly where it can, as
    PyTorch's does."""

    next_id = 0

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = _ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        extras = () if extra_dict is None else extra_dict if isinstance(extra_dict, (list, tuple)) else (extra_dict,)
        self.extra_dict_ref = tuple(_ref(d) for d in extras)

    def remove(self):
        for ref in (self.hooks_dict_ref,) + self.extra_dict_ref:
            d = ref()
            if d is not None:
                d.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
