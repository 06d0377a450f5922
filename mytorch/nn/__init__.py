"""mytorch.nn: Module, Parameter, layers, init, functional, utils."""
from . import functional, init, utils  # noqa: F401
from .modules import *  # noqa: F401,F403
utils = __import__("sys").modules[__name__ + ".utils"]  # the star import above rebound it to nn.modules.utils
from .modules import Module  # noqa: F401
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter  # noqa: F401
from . import parallel  # noqa: F401,E402  (nn.parallel.DistributedDataParallel)
from .parallel import DataParallel  # noqa: F401,E402
from . import attention  # noqa: F401,E402  (nn.attention.sdpa_kernel, not the modules.attention file)
