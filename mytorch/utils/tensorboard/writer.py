"""SummaryWriter: PyTorch's TensorBoard writer over the tensorboard package's asynchronous event file
writer. Every add_* call queues one event; events reach the file every flush_secs seconds, when
max_queue are waiting, on flush() and on close()."""
import os
import socket
import time
from datetime import datetime

import numpy as np
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.proto.attr_value_pb2 import AttrValue
from tensorboard.compat.proto.graph_pb2 import GraphDef
from tensorboard.compat.proto.node_def_pb2 import NodeDef
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboard.compat.proto.versions_pb2 import VersionDef
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from . import summary

__all__ = ["FileWriter", "SummaryWriter"]


class FileWriter:
    """Writes Event protocol buffers to one event file in log_dir."""

    def __init__(self, log_dir, max_queue=10, flush_secs=120, filename_suffix=""):
        self.event_writer = EventFileWriter(str(log_dir), max_queue, flush_secs, filename_suffix)

    def get_logdir(self):
        return self.event_writer.get_logdir()

    def add_event(self, event, step=None, walltime=None):
        event.wall_time = time.time() if walltime is None else walltime
        if step is not None:
            event.step = int(step)
        self.event_writer.add_event(event)

    def add_summary(self, summary, global_step=None, walltime=None):
        self.add_event(event_pb2.Event(summary=summary), global_step, walltime)

    def add_graph(self, graph_profile, walltime=None):
        self.add_event(event_pb2.Event(graph_def=graph_profile.SerializeToString()), None, walltime)

    def flush(self):
        self.event_writer.flush()

    def close(self):
        self.event_writer.close()

    def reopen(self):
        self.event_writer.reopen()


class SummaryWriter:
    """Writes TensorBoard summaries under log_dir (default runs/<date>_<host><comment>)."""

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120, filename_suffix=""):
        if not log_dir:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", stamp + "_" + socket.gethostname() + comment)
        self.log_dir = str(log_dir)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = self.all_writers = None
        self._get_file_writer()
        self.default_bins = summary.default_bins()

    def _get_file_writer(self):
        """The writer of log_dir's own event file, made (again, after close()) on first use."""
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs, self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:  # TensorBoard drops the events at and after purge_step
                step, self.purge_step = self.purge_step, None
                self.file_writer.add_event(event_pb2.Event(step=step, file_version="brain.Event:2"))
                self.file_writer.add_event(event_pb2.Event(
                    step=step, session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)))
        return self.file_writer

    def get_logdir(self):
        return self.log_dir

    def _add(self, proto, global_step, walltime):
        self._get_file_writer().add_summary(proto, global_step, walltime)

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        self._add(summary.scalar(tag, scalar_value, new_style, double_precision), global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Each tag's values go to the run log_dir/<main_tag>_<tag>, so TensorBoard draws them in one chart."""
        walltime = time.time() if walltime is None else walltime
        self._get_file_writer()
        for tag, value in tag_scalar_dict.items():
            path = os.path.join(self.file_writer.get_logdir(), main_tag.replace("/", "_") + "_" + tag)
            writer = self.all_writers.get(path)
            if writer is None:
                writer = self.all_writers[path] = FileWriter(path, self.max_queue, self.flush_secs,
                                                             self.filename_suffix)
            writer.add_summary(summary.scalar(main_tag, value), global_step, walltime)

    def add_tensor(self, tag, tensor, global_step=None, walltime=None):
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.util import tensor_util

        proto = tensor_util.make_tensor_proto(summary.to_numpy(tensor))
        self._add(Summary(value=[Summary.Value(tag=tag, tensor=proto)]), global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None):
        if isinstance(bins, str) and bins == "tensorflow":
            bins = self.default_bins
        self._add(summary.histogram(tag, values, bins, max_bins), global_step, walltime)

    def add_histogram_raw(self, tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts,  # noqa: A002
                          global_step=None, walltime=None):
        if len(bucket_limits) != len(bucket_counts):
            raise ValueError("len(bucket_limits) != len(bucket_counts), see the document.")
        self._add(summary.histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts),
                  global_step, walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        self._add(summary.image(tag, img_tensor, dataformats), global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        self._add(summary.image(tag, img_tensor, dataformats), global_step, walltime)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        """A matplotlib figure (or a list of them, as a batch) rendered to an image."""
        def render(fig):
            fig.canvas.draw()
            rgba = np.asarray(fig.canvas.buffer_rgba())
            if close:
                import matplotlib.pyplot as plt

                plt.close(fig)
            return rgba[..., :3].transpose(2, 0, 1)  # CHW, uint8

        if isinstance(figure, list):
            self.add_images(tag, np.stack([render(f) for f in figure]), global_step, walltime)
        else:
            self.add_image(tag, render(figure), global_step, walltime)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        self._add(summary.text(tag, text_string), global_step, walltime)

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None, global_step=None):
        """One hparams session, written to the run log_dir/<run_name or the time>, with its metrics."""
        exp, ssi, sei = summary.hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        run = os.path.join(self._get_file_writer().get_logdir(), run_name or str(time.time()))
        with SummaryWriter(log_dir=run) as w:
            for proto in (exp, ssi, sei):
                w.file_writer.add_summary(proto, global_step)
            for name, value in metric_dict.items():
                w.add_scalar(name, value, global_step)

    def add_pr_curve(self, tag, labels, predictions, global_step=None, num_thresholds=127, weights=None,
                     walltime=None):
        self._add(summary.pr_curve(tag, labels, predictions, num_thresholds, weights), global_step, walltime)

    def add_pr_curve_raw(self, tag, true_positive_counts, false_positive_counts, true_negative_counts,
                         false_negative_counts, precision, recall, global_step=None, num_thresholds=127,
                         weights=None, walltime=None):
        self._add(summary.pr_curve_raw(tag, true_positive_counts, false_positive_counts, true_negative_counts,
                                       false_negative_counts, precision, recall, num_thresholds, weights),
                  global_step, walltime)

    def add_custom_scalars(self, layout):
        self._add(summary.custom_scalars(layout), None, None)

    def add_custom_scalars_multilinechart(self, tags, category="default", title="untitled"):
        self.add_custom_scalars({category: {title: ["Multiline", tags]}})

    def add_custom_scalars_marginchart(self, tags, category="default", title="untitled"):
        self.add_custom_scalars({category: {title: ["Margin", tags]}})

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """The graph of one forward pass of model on input_to_model (a tensor or a tuple of them), as
        mytorch's autograd recorded it: an op node per recorded backward node, named after the op,
        parameter nodes named as in model.named_parameters(), the inputs and outputs as I/O nodes."""
        self._get_file_writer().add_graph(_graph(model, input_to_model, verbose))

    def flush(self):
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()

    def close(self):
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()
            writer.close()
        self.file_writer = self.all_writers = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close()


def _shape_attr(shape):
    dims = [TensorShapeProto.Dim(size=int(s)) for s in shape]
    return {"_output_shapes": AttrValue(list=AttrValue.ListValue(shape=[TensorShapeProto(dim=dims)]))}


def _graph(model, inputs, verbose=False):
    """A GraphDef of the autograd graph behind model(*inputs)'s outputs."""
    import mytorch
    from mytorch.autograd.function import AccumulateGrad

    inputs = () if inputs is None else inputs if isinstance(inputs, (tuple, list)) else (inputs,)
    with mytorch.enable_grad():
        outputs = model(*inputs)
    outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
    names = {id(p): name for name, p in model.named_parameters()}
    names.update({id(t): f"input/input.{i}" for i, t in enumerate(inputs) if isinstance(t, mytorch.Tensor)})
    nodes, seen = [], {}

    def visit(fn):
        """fn's node name, adding fn and what it depends on to `nodes` the first time."""
        if fn in seen:
            return seen[fn]
        stack = [fn]
        while stack:  # iterative depth-first order (a deep graph needs no recursion): inputs before users
            top = stack[-1]
            if top in seen:  # pushed twice, done already
                stack.pop()
                continue
            pending = [e[0] for e in top.next_edges if e is not None and e[0] not in seen]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            if isinstance(top, AccumulateGrad):
                v = top.variable
                name, op, shape = names.get(id(v), f"leaf/{len(seen)}"), "Parameter", v.shape
                if name.startswith("input/"):
                    op = "IO Node"
                node = NodeDef(name=name, op=op, attr=_shape_attr(shape))
            else:
                op = top.name().removesuffix("Backward0").removesuffix("Backward")
                node = NodeDef(name=f"{op}_{len(seen)}", op=op,
                               input=[seen[e[0]] for e in top.next_edges if e is not None])
            seen[top] = node.name
            nodes.append(node)
        return seen[fn]

    for i, out in enumerate(outputs):
        if isinstance(out, mytorch.Tensor):
            src = [visit(out.grad_fn)] if out.grad_fn is not None else []
            nodes.append(NodeDef(name=f"output/output.{i}", op="IO Node", input=src, attr=_shape_attr(out.shape)))
    for i, t in enumerate(inputs):  # inputs that need no gradient are not in the autograd graph
        name = f"input/input.{i}"
        if isinstance(t, mytorch.Tensor) and not any(n.name == name for n in nodes):
            nodes.append(NodeDef(name=name, op="IO Node", attr=_shape_attr(t.shape)))
    if verbose:
        for n in nodes:
            print(n.name, n.op, list(n.input))
    return GraphDef(node=nodes, versions=VersionDef(producer=22))
