"""torch.nn.utils.parametrizations: ready-made parametrizations (weight_norm)."""
from .weight_norm import parametrized_weight_norm as weight_norm

__all__ = ["weight_norm"]
