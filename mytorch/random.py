"""Random number generation: one Generator per device, seeded by `manual_seed`.

A Generator wraps numpy's PCG64 bit generator (cupy's on CUDA), so runs are reproducible:
the same seed gives the same numbers, on the same device.
"""
import contextlib

import numpy as np

from ._array import CPU, array_module, to_device


class Generator:
    def __init__(self, device="cpu"):
        self.device = to_device(device)
        self._seed = 67280421310721
        self._rng = self._make(self._seed)

    def _make(self, seed):
        if self.device.type == "cpu":
            return np.random.Generator(np.random.PCG64(seed))
        xp = array_module(self.device)
        with xp.cuda.Device(self.device.index):
            return xp.random.default_rng(seed)

    def manual_seed(self, seed):
        seed = int(seed)
        if seed < 0:
            seed += 1 << 64  # PyTorch accepts negative seeds by wrapping
        self._seed = seed
        self._rng = self._make(seed)
        return self

    def seed(self):
        seed = int(np.random.SeedSequence().entropy % (1 << 63))
        self.manual_seed(seed)
        return seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        from .ops.factory import tensor

        state = self._rng.bit_generator.state if self.device.type == "cpu" else None
        if state is None:
            raise RuntimeError("get_state is only supported for CPU generators")
        as_bytes = np.frombuffer(repr(state).encode(), dtype=np.uint8).copy()
        return tensor(as_bytes)

    def set_state(self, new_state):
        import ast

        text = bytes(new_state.numpy().tobytes()).decode()
        self._rng.bit_generator.state = ast.literal_eval(text)
        return self

    @property
    def rng(self):
        return self._rng

    def __repr__(self):
        return f"<mytorch.Generator object at {hex(id(self))}>"


_default_generators = {}


def default_generator(device=CPU):
    gen = _default_generators.get(device)
    if gen is None:
        gen = _default_generators[device] = Generator(device)
    return gen


def rng_for(device, generator=None):
    """The numpy/cupy Generator to draw from for `device`."""
    if generator is not None:
        if generator.device != device:
            raise RuntimeError(f"Expected a '{device.type}' device type for generator but found "
                               f"'{generator.device.type}'")
        return generator.rng
    return default_generator(device).rng


def manual_seed(seed):
    """Seed every device's default generator (and Python's and numpy's legacy global state is left alone)."""
    seed = int(seed)
    default_generator(CPU).manual_seed(seed)
    for dev, gen in list(_default_generators.items()):
        if dev != CPU:
            gen.manual_seed(seed)
    return default_generator(CPU)


seed_all = manual_seed


def seed():
    s = default_generator(CPU).seed()
    for dev, gen in _default_generators.items():
        if dev != CPU:
            gen.manual_seed(s)
    return s


def initial_seed():
    return default_generator(CPU).initial_seed()


def get_rng_state():
    return default_generator(CPU).get_state()


def set_rng_state(state):
    default_generator(CPU).set_state(state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type="cuda"):
    """Within the block, random draws don't disturb the outer sequence: the CPU generator's state (and that of
    the given GPU devices, every used one by default) is restored on exit."""
    if not enabled:
        yield
        return
    if device_type not in ("cuda", "cpu"):
        raise RuntimeError(f"fork_rng: device_type {device_type!r} is not available in mytorch")
    gpus = [d for d in _default_generators if d.type == "cuda"]
    if devices is not None:
        wanted = {int(d) if not hasattr(d, "index") else (d.index or 0) for d in devices}
        gpus = [d for d in gpus if (d.index or 0) in wanted]
    saved = [(d, _default_generators[d].get_state()) for d in [CPU] + gpus]
    try:
        yield
    finally:
        for d, state in saved:
            default_generator(d).set_state(state)
