"""torch.utils.benchmark: Timer and Measurement, timeit with PyTorch's conventions (a fixed thread count
while timing, the median and interquartile range of blocks of runs)."""
from .timer import Language, Measurement, Timer

__all__ = ["Language", "Measurement", "Timer"]
