"""Recurrent layers: RNN, LSTM, GRU and their single-step cells, with PyTorch's parameters and layouts.

Each layer runs as a loop over time steps. The input-to-hidden product of a whole layer is one matmul over
all steps; only the hidden-to-hidden product and the gate math run per step: ordinary ops for the RNN, one
Function with a hand-written backward per step for the LSTM and GRU (2.4x faster fwd+bwd than the op-by-op
graph at hidden 32, 1.25x at hidden 200, where the matmuls dominate). An unpacked input is handled as a
packed batch whose batch size never shrinks, so one loop serves both (see nn.utils.rnn for the layout).

Gates (PyTorch's order and formulas), with gi = x W_ih^T + b_ih and gh = h W_hh^T + b_hh:
  RNN:  h' = tanh(gi + gh)                    (or relu)
  LSTM: i, f, g, o = split(gi + gh);  c' = sig(f) c + sig(i) tanh(g);  h' = sig(o) tanh(c')  [h' W_hr^T]
  GRU:  r, z = sig(gi_rz + gh_rz);  n = tanh(gi_n + r * gh_n);  h' = (1 - z) n + z h
"""
import math
import numbers

import numpy as np

from ..._array import xp_of
from ...autograd.function import Function
from ...ops.factory import empty, zeros
from ...ops.linalg import _matmul
from ...ops.shape import cat, stack
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# one time step: gi is the precomputed input part, state is h (or (h, c) for the LSTM) --------------
def _rnn_step(activation):
    def step(gi, state, w_hh, b_hh, w_hr=None):
        return activation(gi + F.linear(state, w_hh, b_hh))
    return step


def _sigmoid(xp, x):
    return 0.5 * (1.0 + xp.tanh(0.5 * x))  # = 1 / (1 + exp(-x)), without overflow for large -x


def _hidden_product(h, w_hh, b_hh):
    gh = _matmul(h, w_hh.T)
    return gh if b_hh is None else gh + b_hh


def _param_grads(dgh, h, need_w, need_b):
    return (_matmul(dgh.T, h) if need_w else None), (dgh.sum(0) if need_b else None)


# The LSTM and GRU steps are one Function each: a step's dozen elementwise ops and the hidden matmul run on
# raw arrays with a hand-written backward, so the graph holds one node per step instead of ~13.
class _LSTMCell(Function):
    @staticmethod
    def forward(ctx, gi, h, c, w_hh, b_hh):
        xp = xp_of(gi)
        H = c.shape[-1]
        gates = gi + _hidden_product(h, w_hh, b_hh)
        i, f, o = (_sigmoid(xp, gates[:, k * H:(k + 1) * H]) for k in (0, 1, 3))
        g = xp.tanh(gates[:, 2 * H:3 * H])
        c_next = f * c + i * g
        tanh_c = xp.tanh(c_next)
        ctx.save_for_backward(h, c, w_hh, i, f, g, o, tanh_c)
        return o * tanh_c, c_next

    @staticmethod
    def backward(ctx, dh_next, dc_next):
        h, c, w_hh, i, f, g, o, tanh_c = ctx.saved_tensors
        xp = xp_of(h)
        dc = dc_next + dh_next * o * (1 - tanh_c * tanh_c)
        d_gates = xp.concatenate([dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g * g),
                                  dh_next * tanh_c * o * (1 - o)], axis=-1)
        need = ctx.needs_input_grad
        dw, db = _param_grads(d_gates, h, need[3], need[4])
        return d_gates, _matmul(d_gates, w_hh), dc * f, dw, db


class _GRUCell(Function):
    @staticmethod
    def forward(ctx, gi, h, w_hh, b_hh):
        xp = xp_of(gi)
        H = h.shape[-1]
        gh = _hidden_product(h, w_hh, b_hh)
        r = _sigmoid(xp, gi[:, :H] + gh[:, :H])
        z = _sigmoid(xp, gi[:, H:2 * H] + gh[:, H:2 * H])
        gh_n = gh[:, 2 * H:]
        n = xp.tanh(gi[:, 2 * H:] + r * gh_n)
        ctx.save_for_backward(h, w_hh, r, z, n, gh_n)
        return n + z * (h - n)  # = (1 - z) n + z h

    @staticmethod
    def backward(ctx, dh_next):
        h, w_hh, r, z, n, gh_n = ctx.saved_tensors
        xp = xp_of(h)
        dn = dh_next * (1 - z) * (1 - n * n)
        dr = dn * gh_n * r * (1 - r)
        dz = dh_next * (h - n) * z * (1 - z)
        d_gi = xp.concatenate([dr, dz, dn], axis=-1)
        d_gh = xp.concatenate([dr, dz, dn * r], axis=-1)
        need = ctx.needs_input_grad
        dw, db = _param_grads(d_gh, h, need[2], need[3])
        return d_gi, dh_next * z + _matmul(d_gh, w_hh), dw, db


def _lstm_step(gi, state, w_hh, b_hh, w_hr=None):
    h, c = _LSTMCell.apply(gi, *state, w_hh, b_hh)
    if w_hr is not None:
        h = F.linear(h, w_hr)
    return h, c


def _gru_step(gi, h, w_hh, b_hh, w_hr=None):
    return _GRUCell.apply(gi, h, w_hh, b_hh)


_STEPS = {"RNN_TANH": _rnn_step(F.tanh), "RNN_RELU": _rnn_step(F.relu), "LSTM": _lstm_step, "GRU": _gru_step}


def _rows(state, n):
    return tuple(s[:n] for s in state) if isinstance(state, tuple) else state[:n]


def _merge(new, old, n):
    """The new state for the first n rows, the old one for the rest (sequences that already ended, or
    going backwards, have not started yet)."""
    if isinstance(new, tuple):
        return tuple(_merge(a, b, n) for a, b in zip(new, old))
    return new if n == old.shape[0] else cat([new, old[n:]])


def _run_direction(step, gi, batch_sizes, offsets, state, weights, reverse):
    """Run one direction of one layer over packed steps; returns (per-step outputs in time order, final state)."""
    w_hh, b_hh, w_hr = weights
    outputs = [None] * len(batch_sizes)
    order = range(len(batch_sizes) - 1, -1, -1) if reverse else range(len(batch_sizes))
    for t in order:
        n = batch_sizes[t]
        active = state if n == _batch_of(state) else _rows(state, n)
        new = step(gi[offsets[t]:offsets[t] + n], active, w_hh, b_hh, w_hr)
        outputs[t] = new[0] if isinstance(new, tuple) else new
        state = _merge(new, state, n)
    return outputs, state


def _batch_of(state):
    return (state[0] if isinstance(state, tuple) else state).shape[0]


class RNNBase(Module):
    """The shared multi-layer, optionally bidirectional recurrence of RNN, LSTM and GRU."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"hidden_size must be a positive integer, got {hidden_size!r}")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        num_directions = 2 if bidirectional else 1
        out_size = proj_size or hidden_size
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input = input_size if layer == 0 else out_size * num_directions
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = [("weight_ih", (gate_size, layer_input)), ("weight_hh", (gate_size, out_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for name, shape in shapes:
                    setattr(self, name + suffix, Parameter(empty(shape, device=device, dtype=dtype)))
                    self._flat_weights_names.append(name + suffix)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def flatten_parameters(self):
        """cuDNN packs weights into one buffer; mytorch keeps them separate, so nothing to do."""

    @property
    def _flat_weights(self):
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        per_layer = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional else 1))
        weights = self._flat_weights
        return [weights[i:i + per_layer] for i in range(0, len(weights), per_layer)]

    def _layer_weights(self, layer, direction):
        suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
        get = lambda name: getattr(self, name + suffix, None)  # noqa: E731
        return get("weight_ih"), get("bias_ih"), (get("weight_hh"), get("bias_hh"), get("weight_hr"))

    def _state_shapes(self, batch):
        layers = self.num_layers * (2 if self.bidirectional else 1)
        out = (layers, batch, self.proj_size or self.hidden_size)
        return [out, (layers, batch, self.hidden_size)] if self.mode == "LSTM" else [out]

    def forward(self, input, hx=None):
        name = type(self).__name__
        packed = isinstance(input, PackedSequence)
        if packed:
            data, batch_sizes = input.data, [int(b) for b in input.batch_sizes.tolist()]
            batch, unbatched = batch_sizes[0], False
        else:
            if input.dim() not in (2, 3):
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D tensor instead")
            unbatched = input.dim() == 2
            if unbatched:
                input = input.unsqueeze(1)
            elif self.batch_first:
                input = input.transpose(0, 1)
            steps, batch = input.shape[0], input.shape[1]
            data, batch_sizes = input.reshape(steps * batch, input.shape[2]), [batch] * steps
        if data.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {data.shape[-1]}")
        sorted_indices = input.sorted_indices if packed else None
        unsorted_indices = input.unsorted_indices if packed else None
        states = self._initial_states(hx, batch, unbatched, data, sorted_indices)
        offsets = np.concatenate([[0], np.cumsum(batch_sizes)]).tolist()
        step = _STEPS[self.mode]
        directions = 2 if self.bidirectional else 1
        finals = []
        layer_input = data
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                w_ih, b_ih, hidden_weights = self._layer_weights(layer, direction)
                k = layer * directions + direction
                state = tuple(s[k] for s in states) if self.mode == "LSTM" else states[0][k]
                gi = F.linear(layer_input, w_ih, b_ih)  # all steps at once
                steps_out, state = _run_direction(step, gi, batch_sizes, offsets, state, hidden_weights,
                                                  reverse=direction == 1)
                outs.append(cat(steps_out))
                finals.append(state)
            layer_input = outs[0] if directions == 1 else cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        hidden = self._stack_finals(finals, unsorted_indices, unbatched)
        if packed:
            return PackedSequence(layer_input, input.batch_sizes, sorted_indices, unsorted_indices), hidden
        output = layer_input.reshape(len(batch_sizes), batch, layer_input.shape[-1])
        if unbatched:
            output = output.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, hidden

    def _initial_states(self, hx, batch, unbatched, like, sorted_indices):
        shapes = self._state_shapes(batch)
        if hx is None:
            return [zeros(shape, dtype=like.dtype, device=like.device) for shape in shapes]
        given = list(hx) if self.mode == "LSTM" else [hx]
        if self.mode == "LSTM" and len(given) != 2:
            raise RuntimeError("LSTM: Expected hx to be a tuple (h_0, c_0)")
        states = []
        for h, shape in zip(given, shapes):
            if unbatched:
                if h.dim() != 2:
                    raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {h.dim()}-D tensor")
                h = h.unsqueeze(1)
            elif h.dim() != 3:
                raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {h.dim()}-D tensor")
            if sorted_indices is not None:  # a packed batch runs longest-first: hx rows follow
                h = h.index_select(1, sorted_indices)
            if tuple(h.shape) != shape:
                raise RuntimeError(f"Expected hidden size {shape}, got {list(h.shape)}")
            states.append(h)
        return states

    def _stack_finals(self, finals, unsorted_indices, unbatched):
        parts = list(zip(*finals)) if self.mode == "LSTM" else [finals]
        stacked = []
        for part in parts:
            h = stack(list(part))  # (num_layers * num_directions, B, H)
            if unsorted_indices is not None:
                h = h.index_select(1, unsorted_indices)
            stacked.append(h.squeeze(1) if unbatched else h)
        return tuple(stacked) if self.mode == "LSTM" else stacked[0]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (nonlinearity='relu' for ReLU)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)


class LSTM(RNNBase):
    """Long short-term memory; returns output, (h_n, c_n). proj_size > 0 projects h to that size."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device=device, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit; returns output, h_n."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)


# single-step cells ------------------------------------------------------------------------------
class RNNCellBase(Module):
    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), device=device, dtype=dtype))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size), device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def _run(self, step, input, hx, n_states):
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} expected {self.input_size}")
        unbatched = input.dim() == 1
        if unbatched:
            input = input.unsqueeze(0)
        if hx is None:
            hx = tuple(zeros((input.shape[0], self.hidden_size), dtype=input.dtype, device=input.device)
                       for _ in range(n_states))
        else:
            hx = tuple(hx) if n_states == 2 else (hx,)
            hx = tuple(h.unsqueeze(0) if unbatched else h for h in hx)
            for h in hx:
                if tuple(h.shape) != (input.shape[0], self.hidden_size):
                    raise RuntimeError(f"{name}: Expected hidden size {(input.shape[0], self.hidden_size)}, "
                                       f"got {list(h.shape)}")
        state = hx if n_states == 2 else hx[0]
        out = step(F.linear(input, self.weight_ih, self.bias_ih), state, self.weight_hh, self.bias_hh)
        if unbatched:
            out = tuple(o.squeeze(0) for o in out) if n_states == 2 else out.squeeze(0)
        return out

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        return self._run(_STEPS["RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"], input, hx, 1)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        return self._run(_lstm_step, input, hx, 2)


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        return self._run(_gru_step, input, hx, 1)
