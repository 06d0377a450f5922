"""mytorch.utils.tensorboard.SummaryWriter against torch.utils.tensorboard.SummaryWriter: the same calls
write the same summaries (read back from the event files)."""
import glob
import io
import os

import numpy as np
import pytest
import torch

import mytorch

pytest.importorskip("tensorboard", reason="SummaryWriter needs the tensorboard package")
from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader  # noqa: E402
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402

from mytorch.utils.tensorboard import SummaryWriter  # noqa: E402


def summaries(log_dir):
    """{(run relative to log_dir, tag): [(step, Summary.Value)]} from every event file under log_dir."""
    out = {}
    for path in sorted(glob.glob(os.path.join(log_dir, "**", "events.out.tfevents.*"), recursive=True)):
        run = os.path.relpath(os.path.dirname(path), log_dir)
        for event in LegacyEventFileLoader(path).Load():
            for value in event.summary.value:
                out.setdefault((run, value.tag), []).append((event.step, value))
    return out


def both(tmp_path, write):
    """write(writer, lib) with each library's SummaryWriter; their summaries."""
    results = []
    for name, writer_cls, lib in (("mine", SummaryWriter, mytorch), ("torch", TorchWriter, torch)):
        with writer_cls(str(tmp_path / name)) as w:
            write(w, lib)
        results.append(summaries(str(tmp_path / name)))
    return results


def test_scalars_match_torch(tmp_path):
    def write(w, lib):
        for step in range(3):
            w.add_scalar("loss", lib.tensor(1.5 / (step + 1)), step)
            w.add_scalar("lr", 0.1 * step, step)
            w.add_scalar("new/loss", 2.0 ** -step, step, new_style=True)
            w.add_scalar("new/double", 1 / 3, step, new_style=True, double_precision=True)
        w.add_scalars("run", {"train": 1.0, "val/x": lib.tensor(2.0)}, 7)

    mine, ref = both(tmp_path, write)
    assert mine.keys() == ref.keys()
    for key in ref:
        assert [s for s, _ in mine[key]] == [s for s, _ in ref[key]]
        for (_, a), (_, b) in zip(mine[key], ref[key]):
            assert a.simple_value == b.simple_value
            assert list(a.tensor.float_val) == list(b.tensor.float_val)
            assert list(a.tensor.double_val) == list(b.tensor.double_val)
            assert a.metadata.plugin_data.plugin_name == b.metadata.plugin_data.plugin_name


@pytest.mark.parametrize("bins,max_bins", [("tensorflow", None), ("auto", None), (10, None), (64, 16)])
def test_histograms_match_torch(tmp_path, bins, max_bins):
    values = np.random.default_rng(0).standard_normal(2000) * 3

    def write(w, lib):
        w.add_histogram("h", lib.tensor(values), 5, bins=bins, max_bins=max_bins)

    mine, ref = both(tmp_path, write)
    (step, a), = mine[(".", "h")]
    (_, b), = ref[(".", "h")]
    a, b = a.histo, b.histo
    assert step == 5
    assert (a.min, a.max, a.num) == (b.min, b.max, b.num)
    np.testing.assert_allclose([a.sum, a.sum_squares], [b.sum, b.sum_squares], rtol=1e-12)
    assert list(a.bucket) == list(b.bucket)
    np.testing.assert_allclose(a.bucket_limit, b.bucket_limit, rtol=1e-9)


def _pixels(value):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(value.image.encoded_image_string)))


@pytest.mark.parametrize("shape,fmt,method", [((3, 9, 7), "CHW", "add_image"), ((9, 7, 3), "HWC", "add_image"),
                                              ((9, 7), "HW", "add_image"), ((1, 9, 7), "CHW", "add_image"),
                                              ((5, 3, 6, 4), "NCHW", "add_images"),
                                              ((11, 1, 4, 4), "NCHW", "add_images"),
                                              ((2, 4, 4, 3), "NHWC", "add_images")])
@pytest.mark.parametrize("uint8", [False, True])
def test_images_match_torch(tmp_path, shape, fmt, method, uint8):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, shape).astype(np.uint8) if uint8 else rng.random(shape).astype(np.float32)

    def write(w, lib):
        getattr(w, method)("img", lib.tensor(img), 2, dataformats=fmt)

    mine, ref = both(tmp_path, write)
    (_, a), = mine[(".", "img")]
    (_, b), = ref[(".", "img")]
    assert (a.image.height, a.image.width, a.image.colorspace) == (b.image.height, b.image.width, b.image.colorspace)
    np.testing.assert_array_equal(_pixels(a), _pixels(b))


def test_text_pr_curve_and_custom_scalars_match_torch(tmp_path):
    rng = np.random.default_rng(2)
    labels, preds = rng.integers(0, 2, 300), rng.random(300)
    layout = {"Losses": {"both": ["Multiline", ["loss/train", "loss/val"]], "band": ["Margin", ["m", "lo", "hi"]]}}

    def write(w, lib):
        w.add_text("notes", "a *markdown* line", 3)
        w.add_pr_curve("pr", lib.tensor(labels), lib.tensor(preds), 4)
        w.add_pr_curve("pr_few", labels, preds, 4, num_thresholds=10, weights=rng.random(300))
        w.add_custom_scalars(layout)

    rng_state = rng.bit_generator.state
    mine, ref = both(tmp_path, lambda w, lib: (rng.bit_generator.__setattr__("state", rng_state), write(w, lib)))
    assert mine.keys() == ref.keys()
    for key in ref:
        (_, a), = mine[key]
        (_, b), = ref[key]
        assert a.metadata.plugin_data.plugin_name == b.metadata.plugin_data.plugin_name
        assert a.metadata.plugin_data.content == b.metadata.plugin_data.content
        assert list(a.tensor.string_val) == list(b.tensor.string_val)
        assert [d.size for d in a.tensor.tensor_shape.dim] == [d.size for d in b.tensor.tensor_shape.dim]
        np.testing.assert_allclose(a.tensor.float_val, b.tensor.float_val, rtol=1e-6, atol=1e-6)


def test_hparams_match_torch(tmp_path):
    from tensorboard.plugins.hparams import plugin_data_pb2

    def write(w, lib):
        w.add_hparams({"lr": 0.01, "bs": 32, "opt": "adamw", "nesterov": False, "w": lib.tensor([0.5])},
                      {"hparam/accuracy": 0.75, "hparam/loss": lib.tensor(0.25)},
                      hparam_domain_discrete={"opt": ["adamw", "sgd"]}, run_name="trial")

    mine, ref = both(tmp_path, write)
    assert mine.keys() == ref.keys()
    for key in ref:
        (_, a), = mine[key]
        (_, b), = ref[key]
        assert a.simple_value == b.simple_value
        pa, pb = (plugin_data_pb2.HParamsPluginData.FromString(v.metadata.plugin_data.content) for v in (a, b))
        assert pa == pb


def test_graph_names_parameters_and_ops(tmp_path):
    model = mytorch.nn.Sequential(mytorch.nn.Linear(4, 8), mytorch.nn.Tanh(), mytorch.nn.Linear(8, 2))
    with SummaryWriter(str(tmp_path)) as w:
        w.add_graph(model, mytorch.randn(3, 4, requires_grad=True))
    (path,) = glob.glob(str(tmp_path / "events.out.tfevents.*"))
    from tensorboard.compat.proto.graph_pb2 import GraphDef

    graphs = [GraphDef.FromString(e.graph_def) for e in LegacyEventFileLoader(path).Load() if e.graph_def]
    (graph,) = graphs
    nodes = {n.name: n for n in graph.node}
    assert {"0.weight", "0.bias", "2.weight", "2.bias", "input/input.0", "output/output.0"} <= nodes.keys()
    ops = [n.op for n in graph.node if n.op not in ("Parameter", "IO Node")]
    assert len(ops) == 3 and "Tanh" in ops[1]
    last = nodes[nodes["output/output.0"].input[0]]
    assert set(last.input) >= {"2.weight", "2.bias"}
    first = nodes[[n for n in graph.node if n.op == ops[0]][0].name]
    assert "input/input.0" in first.input
    for name in nodes:  # every input names a node of the graph
        assert all(i in nodes for i in nodes[name].input)


def test_bad_input_is_reported(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        with pytest.raises(ValueError, match="one element"):
            w.add_scalar("x", mytorch.ones(2))
        with pytest.raises(ValueError, match="dataformats"):
            w.add_image("x", np.zeros((3, 4, 4)), dataformats="HWC5")
        with pytest.raises(ValueError, match="no element"):
            w.add_histogram("x", np.zeros(0))
        with pytest.raises(ValueError, match="len"):
            w.add_histogram_raw("x", 0, 1, 2, 1, 1, [0.5, 1.0], [1])
        with pytest.raises(TypeError):
            w.add_hparams([("lr", 1)], {})


def test_default_log_dir_and_reopening(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_exp")
    assert w.get_logdir().startswith("runs" + os.sep) and w.get_logdir().endswith("_exp")
    w.add_scalar("a", 1.0, 0)
    w.close()
    w.add_scalar("a", 2.0, 1)  # after close() a new event file is started, as in PyTorch
    w.close()
    got = summaries(w.get_logdir())[(".", "a")]
    assert sorted((s, v.simple_value) for s, v in got) == [(0, 1.0), (1, 2.0)]


def test_figures_match_torch(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def figure():
        fig = plt.figure(figsize=(2, 1.5), dpi=50)
        plt.plot([0, 1, 2], [2, 0, 1])
        return fig

    def write(w, lib):
        w.add_figure("one", figure(), 1)
        w.add_figure("two", [figure(), figure()], 2)

    mine, ref = both(tmp_path, write)
    for tag in ("one", "two"):
        (_, a), = mine[(".", tag)]
        (_, b), = ref[(".", tag)]
        np.testing.assert_array_equal(_pixels(a), _pixels(b))
    assert not plt.get_fignums()  # close=True closed them
