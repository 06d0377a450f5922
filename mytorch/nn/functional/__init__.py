"""mytorch.nn.functional: stateless layer functions (the modules in nn.modules are thin shells over these)."""
from .activation import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .misc import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .rotary import *  # noqa: F401,F403
from .swiglu import *  # noqa: F401,F403
from .loss_extra import *  # noqa: F401,F403
from .misc_extra import *  # noqa: F401,F403
from .embedding_bag import *  # noqa: F401,F403
from .sampling import *  # noqa: F401,F403
from .ctc import *  # noqa: F401,F403
from .fractional_pool import *  # noqa: F401,F403
from .mha import *  # noqa: F401,F403
