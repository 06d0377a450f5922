"""Anomaly detection (torch.autograd.detect_anomaly / set_detect_anomaly): while it is on, every backward
function's input gradients are checked, and a NaN raises PyTorch's RuntimeError naming the function, with
the forward call that created it (recorded when the op ran) in the message."""
import traceback

check_nan = False  # read by the engine after every backward call: on only while anomaly mode checks NaNs
_state = {"enabled": False, "check_nan": True}


def is_anomaly_enabled():
    return _state["enabled"]


def is_anomaly_check_nan_enabled():
    return _state["check_nan"]


def _set(enabled, nan):
    global check_nan
    _state["enabled"], _state["check_nan"] = enabled, nan
    check_nan = enabled and nan


def forward_trace():
    """The Python stack of the op being recorded, when anomaly mode is on (kept on the graph node)."""
    return "".join(traceback.format_stack()[:-3]) if _state["enabled"] else None


def check(node, grads):
    from .._array import xp_of

    for i, g in enumerate(grads):
        if g is not None and getattr(g, "dtype", None) is not None and g.dtype.kind in "fc" and \
                bool(xp_of(g).isnan(g).any()):
            where = node.__dict__.get("_anomaly_trace")
            origin = f"\n\nTraceback of the forward call that caused the error:\n{where}" if where else ""
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.{origin}")


class detect_anomaly:
    """Context manager: anomaly mode on inside (check_nan=False records forward traces only)."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self.prev = (_state["enabled"], _state["check_nan"])
        _set(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        _set(*self.prev)
        return False


class set_detect_anomaly:
    """Function or context manager: set anomaly mode to `mode` (restored on exit when used with `with`)."""

    def __init__(self, mode, check_nan=True):
        self.prev = (_state["enabled"], _state["check_nan"])
        _set(bool(mode), check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(*self.prev)
        return False
