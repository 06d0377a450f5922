"""mytorch.accelerate: the Accelerator (Hugging Face Accelerate's API) for mixed precision, gradient
accumulation, DDP, experiment tracking and resumable checkpoints."""
from .accelerator import Accelerator
from .data_loader import DataLoaderShard
from .optimizer import AcceleratedOptimizer, AcceleratedScheduler
from .state import GradientState, PartialState

__all__ = ["Accelerator", "AcceleratedOptimizer", "AcceleratedScheduler", "DataLoaderShard", "GradientState",
           "PartialState"]
