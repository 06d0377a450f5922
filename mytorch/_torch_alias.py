"""When a program runs with `sys.modules["torch"] = mytorch`, `import torch.nn.functional as F` must give
mytorch.nn.functional itself, not a second copy of the package loaded under the name "torch.nn..."
(whose Tensor class would differ from mytorch's). This import hook maps every `torch.X` to `mytorch.X`
while, and only while, sys.modules["torch"] is mytorch."""
import importlib
import importlib.abc
import importlib.util
import sys


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, real_name):
        self.real_name = real_name

    def create_module(self, spec):
        module = importlib.import_module(self.real_name)
        # submodules a plain module registers itself (mytorch.cuda.amp) get their torch.* names now: the
        # import system never asks a finder for children of a non-package
        prefix = self.real_name + "."
        for name, sub in list(sys.modules.items()):
            if name.startswith(prefix):
                sys.modules.setdefault("torch." + name[len("mytorch."):], sub)
        return module

    def exec_module(self, module):
        pass  # already executed under its real name


class TorchAliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        torch = sys.modules.get("torch")
        if not fullname.startswith("torch.") or torch is None or torch is not sys.modules.get("mytorch"):
            return None
        real_name = "mytorch." + fullname[len("torch."):]
        if real_name not in sys.modules and importlib.util.find_spec(real_name) is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(real_name))


def install():
    if not any(isinstance(f, TorchAliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, TorchAliasFinder())
