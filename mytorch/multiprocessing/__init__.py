"""torch.multiprocessing: Python's multiprocessing (everything it exports is here), plus tensors that live
in shared memory (Tensor.share_memory_, Module.share_memory; see reductions.py) and spawn() to start one
worker per rank."""
import multiprocessing
from multiprocessing import *  # noqa: F401,F403

from .reductions import init_reductions
from .spawn import (ProcessContext, ProcessException, ProcessExitedException, ProcessRaisedException,  # noqa: F401
                    spawn, start_processes)

__all__ = list(multiprocessing.__all__) + ["spawn", "start_processes", "ProcessContext", "ProcessException",
                                           "ProcessRaisedException", "ProcessExitedException",
                                           "get_sharing_strategy", "set_sharing_strategy",
                                           "get_all_sharing_strategies"]

_strategy = {"name": "file_system"}


def get_all_sharing_strategies():
    """Named segments (multiprocessing.shared_memory) are what mytorch shares tensors through."""
    return {"file_system"}


def get_sharing_strategy():
    return _strategy["name"]


def set_sharing_strategy(new_strategy):
    if new_strategy not in get_all_sharing_strategies():
        raise ValueError(f"sharing strategy {new_strategy!r} is not available here: choose from "
                         f"{sorted(get_all_sharing_strategies())}")
    _strategy["name"] = new_strategy


init_reductions()
