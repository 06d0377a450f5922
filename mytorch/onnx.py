"""mytorch.onnx: importable so scripts that `import torch.onnx` at the top run; exporting is not
supported (mytorch has no graph tracer), and says so when called."""


class OnnxExporterError(RuntimeError):
    pass


def export(model, args=(), f=None, *pargs, **kwargs):
    raise OnnxExporterError(
        f"mytorch.onnx.export cannot export {type(model).__name__}: mytorch has no ONNX exporter. "
        "Save the weights with mytorch.save(model.state_dict(), path) or "
        "mytorch.save_file(model.state_dict(), 'model.safetensors') and export from PyTorch.")


def dynamo_export(model, *args, **kwargs):
    return export(model, args)


def is_in_onnx_export():
    return False
