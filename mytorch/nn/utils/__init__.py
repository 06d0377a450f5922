"""nn.utils: gradient clipping, parameter/vector conversion, RNN packing, parametrizations, weight and spectral
norm, pruning."""
from .clip_grad import (clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_,  # noqa: F401
                        get_total_norm)
from .convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from . import rnn  # noqa: F401,E402  (pack_padded_sequence, pad_packed_sequence, pad_sequence, PackedSequence)
from . import parametrize, parametrizations  # noqa: F401,E402
from .weight_norm import remove_weight_norm, weight_norm  # noqa: F401,E402
from .spectral_norm import remove_spectral_norm, spectral_norm  # noqa: F401,E402
from . import prune  # noqa: F401,E402
from . import stateless  # noqa: F401,E402
