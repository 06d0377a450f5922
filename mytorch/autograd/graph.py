"""torch.autograd.graph: the graph's nodes and edges, hooks on saved tensors, and multi-tensor gradient hooks."""
import collections

from . import engine
from .function import Node, saved_tensor_hooks

__all__ = ["Node", "GradientEdge", "get_gradient_edge", "increment_version", "saved_tensors_hooks", "save_on_cpu",
           "disable_saved_tensors_hooks", "register_multi_grad_hook"]

GradientEdge = collections.namedtuple("GradientEdge", ["node", "output_nr"])
_disabled = []  # disable_saved_tensors_hooks' messages, innermost last


def get_gradient_edge(tensor):
    """The edge a gradient for `tensor` flows into: its grad_fn (a leaf's gradient accumulator) and output number."""
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does not require gradients")
    if tensor.grad_fn is None:
        return GradientEdge(tensor._grad_accumulator(), 0)
    return GradientEdge(tensor.grad_fn, tensor._output_nr)


def increment_version(tensor):
    """Count an in-place change made behind autograd's back (a saved tensor's check then sees it)."""
    tensor._version.value += 1


class saved_tensors_hooks:
    """Within the block, every tensor an op saves for backward goes through pack_hook(tensor) -> anything, and
    comes back through unpack_hook(that) -> tensor when backward reads it (e.g. to keep it compressed or on the
    CPU in between)."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook, self.unpack_hook = pack_hook, unpack_hook

    def __enter__(self):
        if _disabled:
            raise RuntimeError(_disabled[-1])
        saved_tensor_hooks.append((self.pack_hook, self.unpack_hook))
        return self

    def __exit__(self, *exc):
        saved_tensor_hooks.pop()


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors live on the CPU between forward and backward, and go back to their device when read."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack(t):
            return t.device, t.to("cpu")

        def unpack(packed):
            device, t = packed
            return t.to(device)

        super().__init__(pack, unpack)


class disable_saved_tensors_hooks:
    """Within the block, entering saved_tensors_hooks raises RuntimeError(error_message)."""

    def __init__(self, error_message):
        self.error_message = error_message

    def __enter__(self):
        if saved_tensor_hooks:
            raise RuntimeError(self.error_message)
        _disabled.append(self.error_message)
        return self

    def __exit__(self, *exc):
        _disabled.pop()


class _MultiHandle:
    def __init__(self, handles):
        self.handles = handles

    def remove(self):
        for h in self.handles:
            h.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def register_multi_grad_hook(tensors, fn, *, mode="all"):
    """mode 'all': fn(grads) once per backward, grads[i] the gradient of tensors[i] (None where it got none);
    mode 'any': fn(grad) with the first of their gradients a backward computes. Returns a handle to remove it."""
    if mode not in ("all", "any"):
        raise ValueError(f"Expects mode to be one of ('all', 'any') but got {mode}")
    tensors = tuple(tensors)
    state = {"grads": None, "fired": False}

    def finish():
        grads, state["grads"] = state["grads"], None
        fn(tuple(grads))

    def make_hook(i):
        def hook(grad):
            if mode == "any":
                if not state["fired"]:
                    state["fired"] = True
                    engine.queue_callback(lambda: state.update(fired=False))
                    fn(grad)
                return None
            if state["grads"] is None:
                state["grads"] = [None] * len(tensors)
                engine.queue_callback(finish)
            state["grads"][i] = grad
            return None
        return hook

    return _MultiHandle([t.register_hook(make_hook(i)) for i, t in enumerate(tensors) if t.requires_grad])
