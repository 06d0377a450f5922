"""Layers as Modules. Each submodule lists its public classes in __all__."""
from .module import Module  # noqa: F401
from .container import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .misc import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
# PyTorch's module paths (torch.nn.modules.dropout, .sparse, ...) over the files above
# (.utils, PyTorch's _pair/_single helpers, loads on import only: as an attribute here it would shadow nn.utils)
from . import (batchnorm, distance, dropout, flatten, fold, instancenorm, padding, pixelshuffle,  # noqa: F401,E402
               sparse)
from .sparse import EmbeddingBag  # noqa: F401,E402
from .channelshuffle import ChannelShuffle  # noqa: F401,E402
from . import upsampling  # noqa: F401,E402
from .lazy import *  # noqa: F401,F403,E402
from . import lazy  # noqa: F401,E402
from .sync_batchnorm import SyncBatchNorm  # noqa: F401,E402
from .adaptive import AdaptiveLogSoftmaxWithLoss  # noqa: F401,E402
