"""Variable-length sequences for the recurrent layers: PackedSequence and its packing helpers.

A packed batch stores the steps of all sequences back to back, time-major, longest sequences first:
data[offset_t : offset_t + batch_sizes[t]] are step t of the batch_sizes[t] sequences still running.
Packing and unpacking are one gather each (an index computed with numpy), so they are differentiable.
"""
from collections import namedtuple

import numpy as np

from ..._dtype import float32, float64
from ...ops.factory import full, tensor
from ...ops.shape import cat, stack
from ...tensor import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence",
           "unpad_sequence", "unpack_sequence", "invert_permutation"]


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """(data, batch_sizes, sorted_indices, unsorted_indices), as in PyTorch. Build it with pack_padded_sequence
    or pack_sequence rather than by hand."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = (lambda t: t if t is None else t.to(data.device))
        return type(self)(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else device)

    def double(self):
        return self.to(dtype=float64)

    def float(self):
        return self.to(dtype=float32)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return self.data.is_pinned()


def invert_permutation(permutation):
    if permutation is None:
        return None
    perm = permutation.detach().cpu().numpy()
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(len(perm))
    return tensor(inverse, device=permutation.device)


def _lengths_array(lengths):
    if isinstance(lengths, Tensor):
        if lengths.dim() != 1:
            raise RuntimeError(f"'lengths' should be a 1D tensor, got {lengths.dim()}D")
        return lengths.detach().cpu().numpy().astype(np.int64)
    return np.asarray(list(lengths), dtype=np.int64)


def _batch_sizes(sorted_lengths):
    """batch_sizes[t]: how many sequences (sorted longest first) have a step t."""
    steps = np.arange(sorted_lengths[0])
    return (sorted_lengths[None, :] > steps[:, None]).sum(axis=1)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded (T, B, *) batch (B, T, * with batch_first) whose sequence b has lengths[b] steps."""
    lengths = _lengths_array(lengths)
    batch = input.shape[0 if batch_first else 1]
    if len(lengths) != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {len(lengths)} "
                           f"(batch_size={batch})")
    if len(lengths) and lengths.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                               "sidestep this requirement if you do not need ONNX exportability.")
        order, sorted_indices = np.arange(batch), None
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_indices = tensor(order, device=input.device)
    steps = input.shape[1 if batch_first else 0]
    if lengths.max() > steps:
        raise RuntimeError(f"pack_padded_sequence: a length of {lengths.max()} exceeds the {steps} steps of the input")
    batch_sizes = _batch_sizes(lengths[order])
    # flat position of (step t, sorted row r) in the input viewed as (T*B, *) or (B*T, *)
    t_idx = np.concatenate([np.full(bs, t) for t, bs in enumerate(batch_sizes)])
    b_idx = np.concatenate([order[:bs] for bs in batch_sizes])
    flat = b_idx * steps + t_idx if batch_first else t_idx * batch + b_idx
    data = input.reshape(batch * steps, *input.shape[2:])[tensor(flat, device=input.device)]
    return PackedSequence(data, tensor(batch_sizes), sorted_indices, invert_permutation(sorted_indices))


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of pack_padded_sequence: (padded batch, lengths as a CPU int64 tensor)."""
    data, batch_sizes = sequence.data, sequence.batch_sizes.detach().cpu().numpy()
    steps, batch = len(batch_sizes), int(batch_sizes[0])
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {steps}")
        steps = total_length
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)])
    # for every (t, sorted row) slot: the packed row that fills it, or the padding row at the end
    source = np.full((steps, batch), offsets[-1], dtype=np.int64)
    for t, bs in enumerate(batch_sizes):
        source[t, :bs] = np.arange(offsets[t], offsets[t] + bs)
    unsorted = sequence.unsorted_indices
    if unsorted is not None:
        source = source[:, unsorted.detach().cpu().numpy()]
    if batch_first:
        source = source.T
    pad_row = full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    padded = cat([data, pad_row])[tensor(source.reshape(-1), device=data.device)]
    padded = padded.reshape(*source.shape, *data.shape[1:])
    sorted_lengths = (batch_sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1)
    lengths = sorted_lengths if unsorted is None else sorted_lengths[unsorted.detach().cpu().numpy()]
    return padded, tensor(lengths.astype(np.int64))


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shape (L_i, *) into (T, B, *) (B, T, * with batch_first), padding to the longest."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    longest = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        gap = longest - s.shape[0]
        if gap:
            pad = full((gap, *s.shape[1:]), padding_value, dtype=s.dtype, device=s.device)
            s = cat([s, pad]) if padding_side == "right" else cat([pad, s])
        rows.append(s)
    return stack(rows, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted=True):
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[:int(n)] for seq, n in zip(padded_sequences, _lengths_array(lengths))]


def unpack_sequence(packed_sequences):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
