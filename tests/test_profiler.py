"""mytorch.profiler / mytorch.autograd.profiler: op events with nesting and self times, key_averages tables,
schedules (against torch.profiler.schedule), chrome traces and the TensorBoard trace handler."""
import json
import os

import pytest
import torch

import mytorch
from mytorch.profiler import ProfilerAction, ProfilerActivity, profile, record_function, schedule


def _model():
    mytorch.manual_seed(0)
    return mytorch.nn.Sequential(mytorch.nn.Linear(8, 16), mytorch.nn.ReLU(), mytorch.nn.Linear(16, 4))


def _step(model, opt):
    with record_function("train_step"):
        loss = model(mytorch.randn(5, 8)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_events_nest_and_add_up():
    model = _model()
    opt = mytorch.optim.SGD(model.parameters(), lr=0.1)
    _step(model, opt)  # warm
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        _step(model, opt)
    events = prof.events()
    names = [e.name for e in events]
    assert names.count("mytorch::Linear") == 2 and "mytorch::Relu" in names
    assert names.count("autograd::engine::evaluate_function: LinearBackward0") == 2
    assert "Optimizer.step#SGD.step" in names
    (top,) = [e for e in events if e.name == "train_step"]
    assert all(e.cpu_parent is top for e in top.cpu_children)
    assert {e.name for e in top.cpu_children} >= {"mytorch::Linear", "Optimizer.step#SGD.step"}
    assert top.cpu_time_total >= sum(c.cpu_time_total for c in top.cpu_children)
    assert top.self_cpu_time_total == pytest.approx(top.cpu_time_total - sum(c.cpu_time_total for c in top.cpu_children))
    assert sum(e.self_cpu_time_total for e in events) == pytest.approx(top.cpu_time_total)
    avg = {a.key: a for a in prof.key_averages()}
    assert avg["mytorch::Linear"].count == 2
    assert avg["mytorch::Linear"].cpu_time == pytest.approx(avg["mytorch::Linear"].cpu_time_total / 2)
    shapes = {str(a.input_shapes) for a in prof.key_averages(group_by_input_shape=True) if a.key == "mytorch::Linear"}
    assert shapes == {str([[5, 8], [16, 8], [16], []]), str([[5, 16], [4, 16], [4], []])}


def test_table():
    model = _model()
    with profile(profile_memory=True) as prof:
        model(mytorch.randn(5, 8))
    text = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=2)
    lines = text.splitlines()
    assert "Name" in lines[1] and "Self CPU %" in lines[1] and "# of Calls" in lines[1] and "CPU Mem" in lines[1]
    assert len([ln for ln in lines if ln.startswith("mytorch::")]) == 2
    assert lines[-1].startswith("Self CPU time total:")
    linear = next(a for a in prof.key_averages() if a.key == "mytorch::Linear")
    assert linear.cpu_memory_usage == (5 * 16 + 5 * 4) * 4  # the float32 outputs
    with pytest.raises(ValueError, match="sort_by"):
        prof.key_averages().table(sort_by="cuda_time_total")


def test_nothing_is_recorded_outside_a_profile():
    assert mytorch.profiler.profile is profile
    with profile() as prof:
        mytorch.ones(2) + 1
    n = len(prof.events())
    mytorch.ones(2) * 3
    assert len(prof.events()) == n
    assert not mytorch.autograd.profiler.recorder.enabled


def test_user_function_ops_are_events_inside_it():
    class Double(mytorch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2 + 0

        @staticmethod
        def backward(ctx, g):
            return g * 2

    with profile() as prof:
        Double.apply(mytorch.ones(3, requires_grad=True))
    (outer,) = [e for e in prof.events() if e.name == "mytorch::Double"]
    assert sorted(c.name for c in outer.cpu_children) == ["mytorch::Add", "mytorch::Mul"]


@pytest.mark.parametrize("kwargs", [dict(wait=1, warmup=1, active=2), dict(wait=0, warmup=0, active=1, repeat=2),
                                    dict(wait=2, warmup=1, active=3, repeat=1, skip_first=3),
                                    dict(wait=1, warmup=2, active=2, repeat=3, skip_first=1)])
@pytest.mark.filterwarnings("ignore:Profiler won't be using warmup")
def test_schedule_matches_torch(kwargs):
    mine, ref = schedule(**kwargs), torch.profiler.schedule(**kwargs)
    assert [mine(i).name for i in range(30)] == [ref(i).name for i in range(30)]


def test_schedule_records_the_active_steps(tmp_path):
    model = _model()
    opt = mytorch.optim.SGD(model.parameters(), lr=0.1)
    traces = []
    with profile(schedule=schedule(wait=1, warmup=1, active=2, repeat=1),
                 on_trace_ready=lambda p: traces.append([e.name for e in p.events()])) as prof:
        for _ in range(6):
            _step(model, opt)
            prof.step()
    assert len(traces) == 1
    steps = sorted(n for n in traces[0] if n.startswith("ProfilerStep#"))
    assert steps == ["ProfilerStep#2", "ProfilerStep#3"]
    assert traces[0].count("train_step") == 2
    assert prof.current_action == ProfilerAction.NONE


def test_chrome_trace_and_tensorboard_handler(tmp_path):
    model = _model()
    with profile(record_shapes=True) as prof:
        model(mytorch.randn(2, 8))
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    ops = [e for e in trace["traceEvents"] if e["name"] == "mytorch::Linear"]
    assert len(ops) == 2 and all(e["ph"] == "X" and e["dur"] >= 0 for e in ops)
    assert ops[0]["args"]["Input Dims"] == [[2, 8], [16, 8], [16], []]
    handler = mytorch.profiler.tensorboard_trace_handler(str(tmp_path / "tb"), worker_name="w0")
    with profile(on_trace_ready=handler):
        model(mytorch.randn(2, 8))
    (name,) = os.listdir(tmp_path / "tb")
    assert name.startswith("w0.") and name.endswith(".pt.trace.json")
    with pytest.raises(RuntimeError, match="key_averages"):
        prof.key_averages().export_chrome_trace(str(tmp_path / "x.json"))


def test_autograd_profiler_and_decorator():
    @record_function("helper")
    def helper(x):
        return x.exp()

    with mytorch.autograd.profiler.profile(record_shapes=True) as prof:
        helper(mytorch.ones(3))
    names = [e.name for e in prof.function_events()]
    assert names == ["helper", "mytorch::Exp"]
    assert "helper" in prof.table() and prof.self_cpu_time_total > 0
    with pytest.raises(RuntimeError, match="didn't finish"):
        with mytorch.autograd.profiler.profile() as running:
            running.key_averages()
