"""torch.profiler: profile ops on the CPU, over a whole block or over the steps a schedule picks.

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with record_function("model_inference"):
            model(inputs)
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=10))

    with profile(schedule=schedule(wait=1, warmup=1, active=3),
                 on_trace_ready=tensorboard_trace_handler("./log")) as prof:
        for batch in loader:
            train_step(batch)
            prof.step()

Events come from mytorch.autograd.profiler: one per op's forward, per backward node and per
record_function range, with wall-clock times on the CPU (GPU activity is not traced here).
"""
import enum
import os
import socket
import time
import warnings

from ..autograd.profiler import record_function
from ..autograd.profiler import profile as _autograd_profile

__all__ = ["profile", "record_function", "schedule", "ProfilerActivity", "ProfilerAction",
           "tensorboard_trace_handler", "supported_activities"]


class ProfilerActivity(enum.Enum):
    CPU = 0
    CUDA = 1
    XPU = 2
    MTIA = 3
    HPU = 4
    PrivateUse1 = 5


def supported_activities():
    return {ProfilerActivity.CPU}


class ProfilerAction(enum.Enum):
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait, warmup, active, repeat=0, skip_first=0, skip_first_wait=0):
    """The action for each step: skip_first steps, then cycles of wait, warmup and active steps (the last
    active one saves the trace), repeat cycles (0: for as long as steps come); skip_first_wait: the first
    cycle has no wait."""
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise ValueError("Invalid profiler schedule arguments: wait, warmup, repeat and skip_first must be >= 0 "
                         "and active > 0")
    if warmup == 0:
        warnings.warn("Profiler won't be using warmup, this can skew profiler results")

    def schedule_fn(step):
        if step < 0:
            raise ValueError(f"Invalid profiler step: {step}")
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        cycle = wait + warmup + active
        if skip_first_wait:  # the first cycle starts at its warmup
            step += wait
        if repeat > 0 and step // cycle >= repeat:
            return ProfilerAction.NONE
        pos = step % cycle
        if pos < wait:
            return ProfilerAction.NONE
        if pos < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if pos < cycle - 1 else ProfilerAction.RECORD_AND_SAVE

    return schedule_fn


def _always_record(step):
    return ProfilerAction.RECORD


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False):
    """on_trace_ready callback: each finished trace to dir_name/<worker>.<ms time>.pt.trace.json[.gz]
    (worker: host_pid), which TensorBoard's profiler plugin and Perfetto read."""
    def handler(prof):
        os.makedirs(dir_name, exist_ok=True)
        worker = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        name = f"{worker}.{int(time.time() * 1000)}.pt.trace.json"
        path = os.path.join(dir_name, name)
        prof.export_chrome_trace(path)
        if use_gzip:
            import gzip
            import shutil

            with open(path, "rb") as src, gzip.open(path + ".gz.tmp", "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(path + ".gz.tmp", path + ".gz")
            os.remove(path)
    return handler


class profile:
    """torch.profiler.profile. Without a schedule everything between start() (or __enter__) and stop()
    is one trace; with one, step() advances it and on_trace_ready(prof) sees each finished trace."""

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None, record_shapes=False,
                 profile_memory=False, with_stack=False, with_flops=False, with_modules=False,
                 experimental_config=None, execution_trace_observer=None, acc_events=False, use_cuda=None,
                 custom_trace_id_callback=None):
        activities = set(activities) if activities is not None else supported_activities()
        unknown = [a for a in activities if not isinstance(a, ProfilerActivity)]
        if unknown:
            raise TypeError(f"activities must be ProfilerActivity values, got {unknown}")
        self.activities = activities
        self.schedule = schedule if schedule is not None else _always_record
        self.record_steps = schedule is not None
        self.on_trace_ready = on_trace_ready
        self.record_shapes, self.profile_memory = record_shapes, profile_memory
        self.step_num = 0
        self.current_action = self.schedule(0)
        self._session = None  # the autograd profile recording now
        self._last = None  # the events of the last finished trace
        self._step_event = None

    # recording ---------------------------------------------------------------------------------
    def _begin(self):
        if ProfilerActivity.CPU not in self.activities:
            return  # nothing this profiler can trace was asked for
        self._session = _autograd_profile(record_shapes=self.record_shapes, profile_memory=self.profile_memory)
        self._session.__enter__()

    def _end(self, save):
        if self._session is None:
            return
        self._close_step()
        self._session.__exit__(None, None, None)
        self._last, self._session = self._session.function_events(), None
        if save and self.on_trace_ready is not None:
            self.on_trace_ready(self)

    def _open_step(self):
        if self._session is not None and self.record_steps:
            self._step_event = record_function(f"ProfilerStep#{self.step_num}").__enter__()

    def _close_step(self):
        if self._step_event is not None:
            self._step_event.__exit__(None, None, None)
            self._step_event = None

    def start(self):
        if self.current_action in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE):
            self._begin()
            self._open_step()
        return self

    def stop(self):
        if self._session is not None:
            self._end(save=True)

    def step(self):
        """Mark the end of a step: the schedule's action for the next one starts or ends the recording."""
        recording = self.current_action in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)
        self._close_step()
        previous = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        if recording and (previous == ProfilerAction.RECORD_AND_SAVE
                          or self.current_action not in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)):
            self._end(save=True)
        if self.current_action in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE) \
                and self._session is None:
            self._begin()
        self._open_step()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # results -----------------------------------------------------------------------------------
    def events(self):
        if self._last is None:
            raise RuntimeError("the profiler has no finished trace yet (it is saved on stop() or by its schedule)")
        return self._last

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0, group_by_overload_name=False):
        return self.events().key_averages(group_by_input_shape, group_by_stack_n)

    def export_chrome_trace(self, path):
        self.events().export_chrome_trace(path)

    @property
    def self_cpu_time_total(self):
        return self.events().self_cpu_time_total
