"""torch.memory_format and torch.layout values. mytorch tensors are always strided and contiguous in the
sense its ops need, so these are accepted (memory_format=, layout=) and otherwise carry no behaviour."""


class memory_format:
    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"torch.{self._name}"

    def __reduce__(self):
        return self._name


class layout:
    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"torch.{self._name}"

    def __reduce__(self):
        return self._name


contiguous_format = memory_format("contiguous_format")
legacy_contiguous_format = contiguous_format  # PyTorch keeps the old name as an alias
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
strided = layout("strided")
