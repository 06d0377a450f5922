"""mytorch.utils.benchmark.Timer / Measurement: PyTorch's API, sane statistics, the thread count while timing."""
import pytest

import mytorch
from mytorch.utils.benchmark import Measurement, Timer


def test_blocked_autorange_and_timeit():
    x = mytorch.randn(32, 32)
    t = Timer("y = x @ x", setup="z = 1", globals={"x": x}, label="matmul", sub_label="32", description="square")
    m = t.blocked_autorange(min_run_time=0.05)
    assert isinstance(m, Measurement) and len(m.times) >= 3 and m.number_per_run >= 1
    assert min(m.times) <= m.median <= max(m.times) and m.iqr >= 0 and m.mean > 0
    assert m.raw_times[0] >= 0.025 or m.number_per_run == 1  # blocks of ~25 ms
    text = repr(m)
    assert "matmul: 32" in text and "y = x @ x" in text and "Median:" in text and "runs per measurement" in text
    one = t.timeit(50)
    assert one.number_per_run == 50 and len(one.times) == 1 and one.times[0] == pytest.approx(one.raw_times[0] / 50)
    assert t.autorange().raw_times[0] >= 0.2
    m = t.adaptive_autorange(threshold=0.5, max_run_time=0.3)
    assert len(m.times) >= 1 and m.significant_figures in (1, 2, 3, 4)


def test_threads_while_timing_and_errors():
    seen = []
    before = mytorch.get_num_threads()
    Timer("seen.append(mytorch.get_num_threads())", globals={"seen": seen, "mytorch": mytorch},
          num_threads=1).timeit(3)
    assert set(seen) == {1} and mytorch.get_num_threads() == before
    with pytest.raises(NotImplementedError):
        Timer().repeat()
    with pytest.raises(ValueError, match="Python statements"):
        Timer("x", language="c++")
