"""mytorch.distributed: process groups and collectives, like torch.distributed.

Backends are existing collective engines: "gloo" (CPUs) is torch.distributed's gloo working on
zero-copy views of our numpy buffers; "nccl" (GPUs) is NCCL through cupy. Start the processes
with `mytorchrun launch` / torchrun (they set RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and call
`init_process_group()`; `new_group(ranks)` makes subgroups, which every collective takes as `group=`.
"""
from .collectives import (all_gather, all_gather_into_tensor, all_gather_object, all_reduce, all_to_all,
                          all_to_all_single, barrier, broadcast, broadcast_object_list, reduce_scatter,
                          reduce_scatter_tensor)
from .process_group import (Backend, GroupMember, ProcessGroup, ReduceOp, Work, default_pg_timeout,
                            destroy_process_group, get_backend, get_global_rank, get_group_rank,
                            get_node_local_rank, get_process_group_ranks, get_rank, get_world_size, group,
                            init_process_group, is_available, is_gloo_available, is_initialized, is_nccl_available,
                            new_group, new_subgroups, new_subgroups_by_enumeration)
from .store import TCPStore

__all__ = ["Backend", "GroupMember", "ProcessGroup", "ReduceOp", "TCPStore", "Work", "all_gather",
           "all_gather_into_tensor", "all_gather_object", "all_reduce", "all_to_all", "all_to_all_single", "barrier",
           "broadcast", "broadcast_object_list", "default_pg_timeout", "destroy_process_group", "get_backend",
           "get_global_rank", "get_group_rank", "get_node_local_rank", "get_process_group_ranks", "get_rank",
           "get_world_size", "group", "init_process_group", "is_available", "is_gloo_available", "is_initialized",
           "is_nccl_available", "new_group", "new_subgroups", "new_subgroups_by_enumeration", "reduce_scatter",
           "reduce_scatter_tensor"]
