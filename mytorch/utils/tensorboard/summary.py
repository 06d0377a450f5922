"""The Summary protocol buffers SummaryWriter writes, one function per kind, built from numpy arrays.

Layouts follow what TensorBoard's plugins read (and what PyTorch's writer produces): scalars as
simple_value (or a scalar tensor with `new_style`), histograms as HistogramProto, images as PNG, text as
a string tensor for the text plugin, hyperparameters as the hparams plugin's experiment / session
summaries, PR curves as the (6, thresholds) tensor of the pr_curves plugin.
"""
import io

import numpy as np
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.hparams import api_pb2
from tensorboard.plugins.hparams import plugin_data_pb2 as hparams_data
from tensorboard.plugins.pr_curve import plugin_data_pb2 as pr_data
from tensorboard.plugins.text import plugin_data_pb2 as text_data

__all__ = ["scalar", "histogram", "histogram_raw", "image", "text", "hparams", "pr_curve", "pr_curve_raw",
           "custom_scalars", "to_numpy", "default_bins", "make_grid", "convert_to_HWC"]


def to_numpy(x):
    """A numpy array from a mytorch or PyTorch tensor (detached, on the CPU), an array or Python values."""
    if hasattr(x, "detach"):
        x = x.detach()
        if hasattr(x, "cpu"):
            x = x.cpu()
        return np.asarray(x.numpy())
    return np.asarray(x)


def _one_value(tag, value):
    a = to_numpy(value)
    if a.size != 1:
        raise ValueError(f"{tag}: a scalar needs one element (0 dimensions), but was given size {list(a.shape)}")
    return a.reshape(()).item()


def _plugin(name, content=b""):
    return SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=name, content=content))


def scalar(tag, value, new_style=False, double_precision=False):
    v = float(_one_value(tag, value))
    if not new_style:
        return Summary(value=[Summary.Value(tag=tag, simple_value=v)])
    tensor = (TensorProto(double_val=[v], dtype="DT_DOUBLE") if double_precision
              else TensorProto(float_val=[v], dtype="DT_FLOAT"))
    return Summary(value=[Summary.Value(tag=tag, tensor=tensor, metadata=_plugin("scalars"))])


def default_bins():
    """TensorFlow's histogram bucket edges: +-1e-12 growing by 10% to +-1e20, and 0."""
    pos = 1e-12 * 1.1 ** np.arange(int(np.ceil(np.log(1e32) / np.log(1.1))))
    pos = pos[pos < 1e20]
    return np.concatenate([-pos[::-1], [0.0], pos])


def histogram(tag, values, bins, max_bins=None):
    values = to_numpy(values).astype(np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("The input has no element.")
    counts, limits = np.histogram(values, bins=bins)
    if max_bins is not None and len(counts) > max_bins:  # merge neighbouring buckets, about max_bins left
        group = len(counts) // max_bins
        pad = (-len(counts)) % group
        counts = np.pad(counts, (0, pad)).reshape(-1, group).sum(1)
        limits = np.append(limits[:-1:group], limits[-1])
    # keep the buckets from the first non-empty one to the last, with an empty one in front; each count goes
    # with its bucket's right edge
    nonzero = np.flatnonzero(counts)
    first, last = (int(nonzero[0]), int(nonzero[-1])) if len(nonzero) else (0, 0)
    counts = np.concatenate([[0], counts[first:last + 1]]) if first == 0 else counts[first - 1:last + 1]
    limits = limits[first:last + 2]
    return histogram_raw(tag, values.min(), values.max(), values.size, values.sum(), values.dot(values), limits,
                         counts)


def histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts):  # noqa: A002
    hist = HistogramProto(min=float(min), max=float(max), num=int(num), sum=float(sum),
                          sum_squares=float(sum_squares), bucket_limit=[float(b) for b in bucket_limits],
                          bucket=[float(c) for c in bucket_counts])
    return Summary(value=[Summary.Value(tag=tag, histo=hist)])


def make_grid(images, ncols=8):
    """(N, C, H, W) -> (C, H * rows, W * cols): the images side by side, ncols to a row."""
    n, c, h, w = images.shape
    ncols = min(n, ncols)
    rows = -(-n // ncols)
    canvas = np.zeros((c, h * rows, w * ncols), images.dtype)
    for i in range(n):
        r, col = divmod(i, ncols)
        canvas[:, r * h:(r + 1) * h, col * w:(col + 1) * w] = images[i]
    return canvas


def convert_to_HWC(array, dataformats):  # noqa: N802 (PyTorch's name)
    """An image (or a batch, 'N...', laid out as a grid) in `dataformats` -> (H, W, 3 or 4)."""
    fmt = dataformats.upper()
    if len(set(fmt)) != len(fmt) or set(fmt) - set("NCHW") or array.ndim != len(fmt):
        raise ValueError(f"dataformats {dataformats!r} does not describe an image array of shape "
                         f"{list(array.shape)} (use letters from NCHW, one per dimension)")
    if "N" in fmt:
        nchw = array.transpose([fmt.index(a) for a in "NCHW"]) if "C" in fmt else \
            array.transpose([fmt.index(a) for a in "NHW"])[:, None]
        chw = make_grid(nchw)
        if chw.shape[0] == 1:
            chw = np.concatenate([chw] * 3, 0)
        return chw.transpose(1, 2, 0)
    if "C" not in fmt:
        return np.stack([array.transpose([fmt.index(a) for a in "HW"])] * 3, 2)
    hwc = array.transpose([fmt.index(a) for a in "HWC"])
    if hwc.shape[2] == 1:
        hwc = np.concatenate([hwc] * 3, 2)
    return hwc


def image(tag, array, dataformats="CHW"):
    """Float images in [0, 1] (times 255, clipped, truncated to uint8 as PyTorch does) or uint8 ones, as PNG."""
    from PIL import Image

    a = convert_to_HWC(to_numpy(array), dataformats)
    if a.dtype != np.uint8:
        a = np.clip(a.astype(np.float32) * 255, 0, 255).astype(np.uint8)
    h, w, c = a.shape
    buf = io.BytesIO()
    Image.fromarray(a if c in (3, 4) else a[..., 0]).save(buf, format="PNG")
    return Summary(value=[Summary.Value(tag=tag, image=Summary.Image(height=h, width=w, colorspace=c,
                                                                     encoded_image_string=buf.getvalue()))])


def text(tag, text_string):
    content = text_data.TextPluginData(version=0).SerializeToString()
    tensor = TensorProto(dtype="DT_STRING", string_val=[str(text_string).encode("utf-8")],
                         tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=_plugin("text", content),
                                        tensor=tensor)])


def _hparams_summary(tag, **data):
    content = hparams_data.HParamsPluginData(version=0, **data).SerializeToString()
    return Summary(value=[Summary.Value(tag=tag, metadata=_plugin("hparams", content))])


def hparams(hparam_dict, metric_dict, hparam_domain_discrete=None):
    """(experiment, session start, session end) summaries of the hparams plugin. Values: bool, int, float,
    str (or a 0-d tensor); hparam_domain_discrete: {name: [the values it may take]}."""
    if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
        raise TypeError("hparam_dict and metric_dict should be dictionaries.")
    domains = hparam_domain_discrete or {}
    for name, values in domains.items():
        if name not in hparam_dict or not isinstance(values, (list, tuple)) or \
                not all(isinstance(v, type(hparam_dict[name])) for v in values):
            raise TypeError(f"parameter: hparam_domain_discrete[{name}] should be a list of the same type as "
                            f"hparam_dict[{name}].")
    infos, start = [], hparams_data.SessionStartInfo()
    for name, v in hparam_dict.items():
        if v is None:
            continue
        if hasattr(v, "detach"):
            v = _one_value(name, v)
        if isinstance(v, (int, float)):  # Python bools too, as numbers (as PyTorch writes them)
            start.hparams[name].number_value, kind = float(v), api_pb2.DATA_TYPE_FLOAT64
        elif isinstance(v, np.bool_):
            start.hparams[name].bool_value, kind = bool(v), api_pb2.DATA_TYPE_BOOL
        elif isinstance(v, str):
            start.hparams[name].string_value, kind = v, api_pb2.DATA_TYPE_STRING
        else:
            raise ValueError("value should be one of int, float, str, bool, or torch.Tensor")
        info = api_pb2.HParamInfo(name=name, type=kind)
        if name in domains:
            info.domain_discrete.extend(domains[name])
        infos.append(info)
    metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=k)) for k in metric_dict]
    exp = _hparams_summary("_hparams_/experiment",
                           experiment=api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics))
    ssi = _hparams_summary("_hparams_/session_start_info", session_start_info=start)
    sei = _hparams_summary("_hparams_/session_end_info",
                           session_end_info=hparams_data.SessionEndInfo(status=api_pb2.STATUS_SUCCESS))
    return exp, ssi, sei


def pr_curve_raw(tag, tp, fp, tn, fn, precision, recall, num_thresholds=127, weights=None):
    data = np.stack([np.asarray(a, np.float32) for a in (tp, fp, tn, fn, precision, recall)])
    content = pr_data.PrCurvePluginData(version=0, num_thresholds=num_thresholds).SerializeToString()
    tensor = TensorProto(dtype="DT_FLOAT", float_val=data.reshape(-1).tolist(),
                         tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=s) for s in data.shape]))
    return Summary(value=[Summary.Value(tag=tag, metadata=_plugin("pr_curves", content), tensor=tensor)])


def pr_curve(tag, labels, predictions, num_thresholds=127, weights=None):
    """Counts at num_thresholds thresholds evenly spaced over [0, 1] of predictions (probabilities in
    [0, 1]) against 0/1 labels, optionally weighted."""
    num_thresholds = min(num_thresholds, 127)
    labels, predictions = to_numpy(labels).reshape(-1), to_numpy(predictions).astype(np.float64).reshape(-1)
    if predictions.size and (predictions.min() < 0 or predictions.max() > 1):
        raise ValueError("pr_curve: predictions must be probabilities in [0, 1]")
    weights = np.ones_like(predictions) if weights is None else to_numpy(weights).astype(np.float64).reshape(-1)
    bins = np.floor(predictions * (num_thresholds - 1)).astype(np.int64)
    true = labels.astype(bool)
    tp_hist = np.bincount(bins, weights=weights * true, minlength=num_thresholds)
    fp_hist = np.bincount(bins, weights=weights * ~true, minlength=num_thresholds)
    tp = np.cumsum(tp_hist[::-1])[::-1]  # predictions at or above each threshold
    fp = np.cumsum(fp_hist[::-1])[::-1]
    tn, fn = fp[0] - fp, tp[0] - tp
    precision = tp / np.maximum(1e-7, tp + fp)
    recall = tp / np.maximum(1e-7, tp + fn)
    return pr_curve_raw(tag, tp, fp, tn, fn, precision, recall, num_thresholds, weights)


def custom_scalars(layout):
    """layout: {category: {chart title: ['Multiline', [tag regexes]] or ['Margin', [value, lower, upper]]}}."""
    categories = []
    for category, charts in layout.items():
        built = []
        for title, (kind, tags) in charts.items():
            if kind == "Margin":
                if len(tags) != 3:
                    raise ValueError(f"custom scalars: a Margin chart takes [value, lower, upper] tags, got {tags}")
                series = [layout_pb2.MarginChartContent.Series(value=tags[0], lower=tags[1], upper=tags[2])]
                built.append(layout_pb2.Chart(title=title, margin=layout_pb2.MarginChartContent(series=series)))
            elif kind == "Multiline":
                built.append(layout_pb2.Chart(title=title, multiline=layout_pb2.MultilineChartContent(tag=tags)))
            else:
                raise ValueError(f"custom scalars: chart kind must be 'Multiline' or 'Margin', got {kind!r}")
        categories.append(layout_pb2.Category(title=category, chart=built))
    content = layout_pb2.Layout(category=categories).SerializeToString()
    tensor = TensorProto(dtype="DT_STRING", string_val=[content], tensor_shape=TensorShapeProto())
    return Summary(value=[Summary.Value(tag="custom_scalars__config__", tensor=tensor,
                                        metadata=_plugin("custom_scalars"))])
