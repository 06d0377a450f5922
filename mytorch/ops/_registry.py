"""Each op module lists the functions it adds as Tensor methods; this attaches them.

`tensor_methods(add=add, sub=sub)` -> `Tensor.add`, `Tensor.sub`. Keeping the list next to the
ops (rather than in tensor.py) keeps one place per op. `PUBLIC_OPS` collects every public op
so the parity test can check each one is covered.
"""
from ..tensor import Tensor

PUBLIC_OPS = {}


def tensor_methods(**methods):
    for name, fn in methods.items():
        setattr(Tensor, name, fn)


def public(*fns, **named):
    """Mark functions as public `mytorch.<name>` ops."""
    for fn in fns:
        PUBLIC_OPS[fn.__name__] = fn
    PUBLIC_OPS.update(named)
    return fns[0] if len(fns) == 1 and not named else None
