"""torch.testing.make_tensor: a tensor of random values in a range, for tests."""
import math

import numpy as np

_FLOAT_RANGE = (-9.0, 9.0)
_INT_RANGE = (-9, 10)


def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad=False, noncontiguous=False,
                exclude_zero=False, memory_format=None):
    """Uniform values in [low, high) (floats, complex parts: [-9, 9); integers: [-9, 10), clipped to the dtype's
    range); bools at random. noncontiguous: the values sit in every other element of a larger array."""
    import mytorch
    from mytorch import _dtype

    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    dtype = _dtype.to_dtype(dtype)
    if requires_grad and not (dtype.is_floating_point or dtype.is_complex):
        raise ValueError(f"make_tensor: requires_grad=True is not supported for dtype {dtype}")
    for name, v in (("low", low), ("high", high)):
        if v is not None and isinstance(v, float) and math.isnan(v):
            raise ValueError(f"`{name}` cannot be NaN, but got {name}=nan")
    if low is not None and high is not None and low > high:
        raise ValueError(f"`low` must be less than or equal to `high`, but got {low} > {high}")
    rng = np.random.default_rng(int(mytorch.randint(0, 2 ** 31 - 1, ()).item()))
    npd = dtype.np
    if npd == np.bool_:
        values = rng.integers(0, 2, shape).astype(np.bool_)
    elif npd.kind in "iu":
        info = np.iinfo(npd)
        lo = max(int(math.ceil(low)) if low is not None else _INT_RANGE[0], info.min)
        hi = min(int(math.ceil(high)) if high is not None else _INT_RANGE[1], info.max)
        values = rng.integers(lo, max(hi, lo + 1), shape).astype(npd)
        if exclude_zero:
            values[values == 0] = 1 if hi > 1 else -1
    else:
        lo = _FLOAT_RANGE[0] if low is None else low
        hi = _FLOAT_RANGE[1] if high is None else high
        wide = np.float64

        def draw():
            return lo + (hi - lo) * rng.random(shape, dtype=wide)

        values = draw() + 1j * draw() if npd.kind == "c" else draw()
        if exclude_zero:
            tiny = np.finfo(npd if npd.kind == "f" else np.float32).tiny
            values = np.where(values == 0, tiny, values)
        values = values.astype(npd) if npd.kind in "fc" else values.astype(np.float32)
    t = mytorch.tensor(values, dtype=dtype, device=device)
    if noncontiguous and t.numel() > 1:
        wide_t = mytorch.zeros(shape[:-1] + (2 * shape[-1],), dtype=dtype, device=device)
        wide_t[..., ::2] = t
        t = wide_t[..., ::2]
    if requires_grad:
        t.requires_grad_(True)
    return t
