"""Timer: run a statement (with its setup, under `globals`) in blocks of runs and report a Measurement."""
import enum
import statistics
import textwrap
import timeit

import numpy as np

__all__ = ["Language", "Measurement", "Timer"]


class Language(enum.Enum):
    PYTHON = 0
    CPP = 1


def _unit(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return unit, scale
    return "ns", 1e-9


class Measurement:
    """The times of the blocks a Timer ran: per-run times, their median, mean and interquartile range."""

    def __init__(self, number_per_run, raw_times, task_spec, metadata=None):
        self.number_per_run = number_per_run
        self.raw_times = list(raw_times)
        self.task_spec = task_spec
        self.metadata = metadata

    @property
    def times(self):
        return [t / self.number_per_run for t in self.raw_times]

    @property
    def median(self):
        return statistics.median(self.times)

    @property
    def mean(self):
        return statistics.mean(self.times)

    @property
    def iqr(self):
        q1, q3 = np.percentile(self.times, [25, 75])
        return float(q3 - q1)

    @property
    def significant_figures(self):
        """How many digits of the median the spread supports (1-4)."""
        if len(self.times) < 2 or self.iqr == 0:
            return 4
        return int(max(1, min(4, np.floor(np.log10(self.median / self.iqr)) + 1)))

    @property
    def has_warnings(self):
        """A spread over a tenth of the median, among four or more measurements."""
        return len(self.times) >= 4 and self.iqr / max(self.median, 1e-30) > 0.1

    @property
    def stmt(self):
        return self.task_spec["stmt"]

    @property
    def label(self):
        return self.task_spec["label"]

    @property
    def title(self):
        return self.task_spec["label"] or self.task_spec["stmt"]

    def __repr__(self):
        unit, scale = _unit(self.median)
        q1, q3 = np.percentile(self.times, [25, 75])
        spec = self.task_spec
        head = [f"<mytorch.utils.benchmark.Measurement object at {hex(id(self))}>"]
        if spec["label"]:
            head.append(spec["label"] + (": " + spec["sub_label"] if spec["sub_label"] else ""))
        head.append(textwrap.indent(spec["stmt"], "  ") if "\n" in spec["stmt"] else spec["stmt"])
        if spec["description"]:
            head.append(spec["description"])
        body = [f"  Median: {self.median / scale:.2f} {unit}"]
        if len(self.times) > 1:
            body.append(f"  IQR:    {self.iqr / scale:.2f} ({q1 / scale:.2f} to {q3 / scale:.2f})")
        threads = spec["num_threads"]
        body.append(f"  {len(self.times)} measurement{'s' if len(self.times) != 1 else ''}, {self.number_per_run} "
                    f"runs per measurement, {threads} thread{'s' if threads != 1 else ''}")
        if self.has_warnings:
            body.append(f"  WARNING: Interquartile range is {100 * self.iqr / self.median:.1f}% of the median "
                        "measurement.\n           This suggests significant environmental influence.")
        return "\n".join(head + body)


class Timer:
    def __init__(self, stmt="pass", setup="pass", global_setup="", timer=timeit.default_timer, globals=None,
                 label=None, sub_label=None, description=None, env=None, num_threads=1, language=Language.PYTHON):
        if language not in (Language.PYTHON, "py", "python"):
            raise ValueError(f"language {language!r}: mytorch's Timer runs Python statements only")
        if not isinstance(stmt, str) or not isinstance(setup, str):
            raise ValueError("stmt and setup must be strings (code to run), as for timeit")
        self._globals = dict(globals or {})
        self._timer = timeit.Timer(stmt=textwrap.dedent(stmt), setup=textwrap.dedent(global_setup + "\n" + setup),
                                   timer=timer, globals=self._globals)
        self._spec = {"stmt": stmt, "setup": setup, "label": label, "sub_label": sub_label,
                      "description": description, "env": env, "num_threads": num_threads}

    def _run(self, number):
        import mytorch

        before = mytorch.get_num_threads()
        mytorch.set_num_threads(self._spec["num_threads"])
        try:
            return self._timer.timeit(number)
        finally:
            mytorch.set_num_threads(before)

    def _measurement(self, number, times):
        return Measurement(number, times, dict(self._spec))

    def timeit(self, number=1000000):
        """One block of `number` runs (after a warm-up block of number // 100 + 1)."""
        self._run(max(1, number // 100))
        return self._measurement(number, [self._run(number)])

    def repeat(self, repeat=-1, number=-1):
        raise NotImplementedError("See `Timer.blocked_autorange.`")  # as in PyTorch

    def _block_size(self, min_block_time=0.025):
        """The first power of ten of runs that takes min_block_time (after one warm-up run)."""
        self._run(1)
        number = 1
        while True:
            if self._run(number) >= min_block_time:
                return number
            number *= 10

    def autorange(self, callback=None):
        """timeit's autorange: the first power of ten of runs that takes at least 0.2 s, one measurement."""
        number = 1
        while True:
            elapsed = self._run(number)
            if callback is not None:
                callback(number, elapsed)
            if elapsed >= 0.2:
                return self._measurement(number, [elapsed])
            number *= 10

    def blocked_autorange(self, callback=None, min_run_time=0.2):
        """Blocks of a size taking ~25 ms each, until min_run_time has been spent timing (at least 3 blocks)."""
        number = self._block_size()
        times, total = [], 0.0
        while total < min_run_time or len(times) < 3:
            elapsed = self._run(number)
            if callback is not None:
                callback(number, elapsed)
            times.append(elapsed)
            total += elapsed
        return self._measurement(number, times)

    def adaptive_autorange(self, threshold=0.1, *, min_run_time=0.01, max_run_time=10.0, callback=None):
        """Blocks until the interquartile range is below threshold x the median (after min_run_time), or
        max_run_time has been spent."""
        number = self._block_size(min_block_time=min(0.025, max(min_run_time / 4, 1e-4)))
        times, total = [], 0.0
        while total < max_run_time:
            elapsed = self._run(number)
            if callback is not None:
                callback(number, elapsed)
            times.append(elapsed)
            total += elapsed
            if total >= min_run_time and len(times) >= 4:
                m = self._measurement(number, times)
                if m.iqr / max(m.median, 1e-30) < threshold:
                    return m
        return self._measurement(number, times)
