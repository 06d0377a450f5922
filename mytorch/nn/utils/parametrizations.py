"""torch.nn.utils.parametrizations: ready-made parametrizations (weight_norm, spectral_norm)."""
from .spectral_norm import parametrized_spectral_norm as spectral_norm
from .weight_norm import parametrized_weight_norm as weight_norm

__all__ = ["spectral_norm", "weight_norm"]
