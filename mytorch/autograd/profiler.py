"""torch.autograd.profiler: time every op while a profile is open.

While a profile records, each Function.apply (an op's forward: `mytorch::Linear`), each backward node the
engine runs (`autograd::engine::evaluate_function: LinearBackward0`) and each record_function range is
one event: wall-clock start and end on its thread, input shapes when asked, and the bytes of the arrays it
returned when profile_memory is on. Events nest: an event's self time is its time less that of the events
directly inside it. key_averages() groups events by name (and input shapes), as PyTorch's does.

Only a flag is checked per op when no profile records.
"""
import collections
import json
import os
import threading
import time

__all__ = ["profile", "record_function", "EventList", "FunctionEvent", "FunctionEventAvg"]


class _Recorder:
    """The one switch ops look at (`enabled`) and the open events of each thread."""

    enabled = False

    def __init__(self):
        self.sessions = []  # profiles recording now; each gets every event
        self.local = threading.local()

    def _stack(self):
        stack = getattr(self.local, "stack", None)
        if stack is None:
            stack = self.local.stack = []
        return stack

    def push(self, name, shapes=None):
        event = FunctionEvent(name, time.perf_counter_ns(), threading.get_ident(), shapes)
        stack = self._stack()
        if stack:
            stack[-1].cpu_children.append(event)
            event.cpu_parent = stack[-1]
        stack.append(event)
        return event

    def pop(self, event, op=False):
        event.end_ns = time.perf_counter_ns()
        if not op:  # a range allocates what the ops inside it do
            event.cpu_memory_usage = sum(c.cpu_memory_usage for c in event.cpu_children)
        stack = self._stack()
        if stack and stack[-1] is event:
            stack.pop()
        for session in self.sessions:
            session._events.append(event)

    def claim(self):
        """Whether Function.apply should hand this call to op(): False once, for the call op() makes."""
        local = self.local
        if getattr(local, "skip", False):
            local.skip = False
            return False
        return True

    def op(self, cls, args, kwargs):
        """Run cls.apply(*args, **kwargs) as one event (ops it runs inside, as a user Function's forward
        does, are events of their own inside it)."""
        shapes = [list(a.shape) if hasattr(a, "shape") else [] for a in args] \
            if any(s.record_shapes for s in self.sessions) else None
        event = self.push("mytorch::" + cls.__name__.lstrip("_"), shapes)
        self.local.skip = True
        try:
            result = cls.apply(*args, **kwargs)
        finally:
            self.local.skip = False
            self.pop(event, op=True)
        if any(s.profile_memory for s in self.sessions):
            event.cpu_memory_usage = _nbytes(result)
        return result

    def start(self, session):
        self.sessions.append(session)
        _Recorder.enabled = True

    def stop(self, session):
        if session in self.sessions:
            self.sessions.remove(session)
        _Recorder.enabled = bool(self.sessions)


def _nbytes(result):
    from ..tensor import Tensor

    items = result if isinstance(result, (tuple, list)) else (result,)
    return sum(t._data.nbytes for t in items if isinstance(t, Tensor))


recorder = _Recorder()


class FunctionEvent:
    """One timed range. Times are in microseconds, as in PyTorch."""

    def __init__(self, name, start_ns, thread, input_shapes=None):
        self.name = self.key = name
        self.start_ns, self.end_ns = start_ns, start_ns
        self.thread = thread
        self.input_shapes = input_shapes
        self.cpu_children = []
        self.cpu_parent = None
        self.cpu_memory_usage = 0
        self.count = 1

    @property
    def cpu_time_total(self):
        return (self.end_ns - self.start_ns) / 1e3

    @property
    def self_cpu_time_total(self):
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)

    @property
    def self_cpu_memory_usage(self):
        return self.cpu_memory_usage - sum(c.cpu_memory_usage for c in self.cpu_children)

    cpu_time = cpu_time_total

    @property
    def time_range(self):
        return self.start_ns / 1e3, self.end_ns / 1e3

    def __repr__(self):
        return (f"<FunctionEvent name={self.name!r} cpu_time_total={self.cpu_time_total:.3f}us "
                f"self_cpu_time_total={self.self_cpu_time_total:.3f}us input_shapes={self.input_shapes}>")


class FunctionEventAvg:
    """The events of one name (and input shapes) added up."""

    def __init__(self, key, input_shapes=None):
        self.key = key
        self.input_shapes = input_shapes
        self.count = 0
        self.cpu_time_total = self.self_cpu_time_total = 0.0
        self.cpu_memory_usage = self.self_cpu_memory_usage = 0

    def add(self, event):
        self.count += event.count
        self.cpu_time_total += event.cpu_time_total
        self.self_cpu_time_total += event.self_cpu_time_total
        self.cpu_memory_usage += event.cpu_memory_usage
        self.self_cpu_memory_usage += event.self_cpu_memory_usage
        return self

    @property
    def cpu_time(self):
        return self.cpu_time_total / max(self.count, 1)

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key!r} count={self.count} cpu_time_total={self.cpu_time_total:.3f}us "
                f"self_cpu_time_total={self.self_cpu_time_total:.3f}us>")


_SORT_KEYS = ("cpu_time", "cpu_time_total", "self_cpu_time_total", "count", "cpu_memory_usage",
              "self_cpu_memory_usage")


def _fmt_time(us):
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def _fmt_mem(n):
    for unit, size in (("Gb", 1 << 30), ("Mb", 1 << 20), ("Kb", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} b"


class EventList(list):
    """Events (or their averages) with PyTorch's summary table."""

    def __init__(self, events=(), profile_memory=False, record_shapes=False):
        super().__init__(events)
        self._profile_memory, self._record_shapes = profile_memory, record_shapes

    @property
    def self_cpu_time_total(self):
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0):
        groups = collections.OrderedDict()
        for e in self:
            shapes = str(e.input_shapes) if group_by_input_shape else None
            key = (e.key, shapes)
            if key not in groups:
                groups[key] = FunctionEventAvg(e.key, e.input_shapes if group_by_input_shape else None)
            groups[key].add(e)
        return EventList(groups.values(), self._profile_memory, group_by_input_shape)

    def total_average(self):
        total = FunctionEventAvg("Total")
        for e in self:
            total.add(e)
        return total

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75, max_name_column_width=55,
              max_shapes_column_width=80, header=None, top_level_events_only=False):
        rows = list(self)
        if top_level_events_only:
            rows = [e for e in rows if getattr(e, "cpu_parent", None) is None]
        if sort_by is not None:
            if sort_by not in _SORT_KEYS:
                raise ValueError(f"sort_by must be one of {list(_SORT_KEYS)} (CPU only here), got {sort_by!r}")
            rows.sort(key=lambda e: getattr(e, sort_by), reverse=True)
        if row_limit is not None and row_limit > 0:
            rows = rows[:row_limit]
        total_self = sum(e.self_cpu_time_total for e in self) or 1.0  # both percentages are of it, as in PyTorch
        columns = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg"]
        if self._profile_memory:
            columns += ["CPU Mem", "Self CPU Mem"]
        columns.append("# of Calls")
        shapes = self._record_shapes and any(getattr(e, "input_shapes", None) for e in rows)
        if shapes:
            columns.append("Input Shapes")
        table = []
        for e in rows:
            name = e.key if len(e.key) <= max_name_column_width else e.key[:max_name_column_width - 3] + "..."
            row = [name, f"{100 * e.self_cpu_time_total / total_self:.2f}%", _fmt_time(e.self_cpu_time_total),
                   f"{100 * e.cpu_time_total / total_self:.2f}%", _fmt_time(e.cpu_time_total), _fmt_time(e.cpu_time)]
            if self._profile_memory:
                row += [_fmt_mem(e.cpu_memory_usage), _fmt_mem(e.self_cpu_memory_usage)]
            row.append(str(e.count))
            if shapes:
                row.append(str(e.input_shapes or [])[:max_shapes_column_width])
            table.append(row)
        widths = [max(len(c), *(len(r[i]) for r in table)) if table else len(c) for i, c in enumerate(columns)]
        line = "-" * (sum(widths) + 2 * (len(widths) - 1))
        fmt = lambda r: "  ".join(f"{v:<{w}}" if i == 0 else f"{v:>{w}}"  # noqa: E731
                                  for i, (v, w) in enumerate(zip(r, widths)))
        out = ([header] if header else []) + [line, fmt(columns), line] + [fmt(r) for r in table] + [line]
        out.append(f"Self CPU time total: {_fmt_time(total_self)}")
        return "\n".join(out) + "\n"

    def __str__(self):
        return self.table()

    def export_chrome_trace(self, path):
        """Chrome's trace-event JSON (chrome://tracing, Perfetto), written to a temporary file and renamed."""
        pid = os.getpid()
        events = []
        for e in self:
            if not isinstance(e, FunctionEvent):
                raise RuntimeError("export_chrome_trace needs the events, not their key_averages()")
            item = {"name": e.name, "ph": "X", "cat": "cpu_op", "ts": e.start_ns / 1e3, "dur": e.cpu_time_total,
                    "pid": pid, "tid": e.thread}
            if e.input_shapes is not None:
                item["args"] = {"Input Dims": e.input_shapes}
            events.append(item)
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
        with open(tmp, "w") as f:
            json.dump({"traceEvents": events, "displayTimeUnit": "ms"}, f)
        os.replace(tmp, path)


class profile:
    """torch.autograd.profiler.profile: record every op between __enter__ and __exit__."""

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None, record_shapes=False, with_flops=False,
                 profile_memory=False, with_stack=False, with_modules=False, use_kineto=False, use_cpu=True,
                 experimental_config=None, acc_events=False, custom_trace_id_callback=None):
        self.enabled = enabled
        self.record_shapes, self.profile_memory = record_shapes, profile_memory
        self._events = []
        self._function_events = None

    def __enter__(self):
        if self.enabled:
            recorder.start(self)
        return self

    def __exit__(self, *exc):
        if self.enabled:
            recorder.stop(self)
            self._function_events = EventList(sorted(self._events, key=lambda e: e.start_ns),
                                              self.profile_memory, self.record_shapes)
        return False

    def _check_finished(self):
        if self._function_events is None:
            raise RuntimeError("Profiler didn't finish running")

    def function_events(self):
        self._check_finished()
        return self._function_events

    def events(self):
        return self.function_events()

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0):
        return self.function_events().key_averages(group_by_input_shape, group_by_stack_n)

    def table(self, sort_by=None, row_limit=100, **kwargs):
        return self.key_averages().table(sort_by=sort_by, row_limit=row_limit, **kwargs)

    def total_average(self):
        return self.function_events().total_average()

    @property
    def self_cpu_time_total(self):
        return self.function_events().self_cpu_time_total

    def export_chrome_trace(self, path):
        self.function_events().export_chrome_trace(path)

    def __str__(self):
        return self.table() if self._function_events is not None else "<unfinished mytorch.autograd.profile>"


class record_function:
    """A named range in the profile (context manager or decorator); it costs nothing when none records."""

    def __init__(self, name, args=None):
        self.name, self.args = name, args
        self._event = None

    def __enter__(self):
        if _Recorder.enabled:
            self._event = recorder.push(self.name)
        return self

    def __exit__(self, *exc):
        if self._event is not None:
            recorder.pop(self._event)
            self._event = None
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with record_function(self.name, self.args):
                return fn(*args, **kwargs)
        return wrapper
