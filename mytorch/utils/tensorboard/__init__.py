"""torch.utils.tensorboard: SummaryWriter writes TensorBoard event files (scalars, histograms, images,
text, hyperparameters, the autograd graph, PR curves, custom scalar layouts) that `tensorboard --logdir
runs` shows. It stands on the `tensorboard` package (its protocol buffers and event file writer), as
PyTorch's does: `pip install tensorboard`."""
try:
    import tensorboard  # noqa: F401
except ImportError as e:
    raise ImportError("TensorBoard logging requires TensorBoard version 1.15 or above "
                      "(pip install tensorboard)") from e

from .writer import FileWriter, SummaryWriter

__all__ = ["FileWriter", "SummaryWriter"]
