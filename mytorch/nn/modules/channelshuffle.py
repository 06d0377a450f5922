"""ChannelShuffle (ShuffleNet): split the channels into `groups` and interleave them,
(N, g * c, ...) -> (N, c, g, ...) -> (N, g * c, ...)."""
from .module import Module

__all__ = ["ChannelShuffle"]


class ChannelShuffle(Module):
    def __init__(self, groups):
        super().__init__()
        if not isinstance(groups, int):
            raise TypeError("groups should be an integer")
        self.groups = groups

    def forward(self, input):
        if input.dim() < 3:
            raise RuntimeError(f"channel_shuffle expects input to have at least 3 dimensions, but got input with "
                               f"sizes {list(input.shape)}")
        if self.groups <= 0:
            raise RuntimeError(f"Number of groups to divide channels in must be positive. "
                               f"Value of groups:{self.groups}")
        n, channels = input.shape[0], input.shape[1]
        if channels % self.groups:
            raise RuntimeError(f"Number of channels must be divisible by groups. Got {channels} channels and "
                               f"{self.groups} groups.")
        rest = tuple(input.shape[2:])
        per_group = channels // self.groups
        shuffled = input.reshape(n, self.groups, per_group, *rest).transpose(1, 2)
        return shuffled.reshape(n, channels, *rest)

    def extra_repr(self):
        return f"groups={self.groups}"
