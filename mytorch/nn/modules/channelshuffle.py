"""ChannelShuffle (ShuffleNet): split the channels into `groups` and interleave them (F.channel_shuffle)."""
from .. import functional as F
from .module import Module

__all__ = ["ChannelShuffle"]


class ChannelShuffle(Module):
    def __init__(self, groups):
        super().__init__()
        if not isinstance(groups, int):
            raise TypeError("groups should be an integer")
        self.groups = groups

    def forward(self, input):
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"
