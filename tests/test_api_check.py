"""mytorch.utils.api_check: the torch names a program uses, found statically and looked up on mytorch."""
import json
import subprocess
import sys
import textwrap

import pytest

from mytorch.utils import api_check

GOOD = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim
from torch.utils.data import DataLoader, TensorDataset as TD


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return F.relu(self.fc(x)) + nn.functional.gelu(x)


x = torch.randn(8, 4)
loader = DataLoader(TD(x, x), batch_size=2)
opt = optim.LBFGS(Net().parameters())
scaler = torch.cuda.amp.GradScaler()
y = x.view(-1).not_a_real_method()   # a method on a tensor: not checkable statically
"""

BAD = """
import torch
from torch import nn
layer = nn.Foo(3)
z = torch.linalg.not_a_function(torch.eye(2))
from torch.nope import thing
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_everything_found_exits_0(tmp_path, capsys):
    assert api_check.main([_write(tmp_path, "good.py", GOOD)]) == 0
    out = capsys.readouterr().out
    assert "0 missing" in out and "can't be resolved statically" in out


def test_collects_names_through_every_import_form(tmp_path):
    used = api_check.check_source(GOOD)["used"]
    for name in ("torch.randn", "torch.nn.Module", "torch.nn.Linear", "torch.nn.functional.relu",
                 "torch.nn.functional.gelu", "torch.optim.LBFGS", "torch.utils.data.DataLoader",
                 "torch.utils.data.TensorDataset", "torch.cuda.amp.GradScaler"):
        assert name in used, name
    assert not any("not_a_real_method" in name for name in used)


def test_missing_names_reported_with_file_and_line(tmp_path, capsys):
    bad = _write(tmp_path, "bad.py", BAD)
    assert api_check.main([_write(tmp_path, "good.py", GOOD), bad]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:4:9: torch.nn.Foo is missing in mytorch (mytorch.nn has no attribute 'Foo')" in out
    assert f"{bad}:5:5: torch.linalg.not_a_function is missing" in out
    assert f"{bad}:6:1: torch.nope.thing is missing in mytorch (mytorch has no attribute 'nope')" in out
    assert "good.py" not in out.split("torch names used")[0]


def test_keyword_arguments_checked_against_mytorch_signatures(tmp_path, capsys):
    path = _write(tmp_path, "kw.py", """
        import torch
        import torch.nn as nn
        lin = nn.Linear(3, 4, bias=False, not_a_kwarg=1)
        opt = torch.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9, **{"nesterov": False})
        y = torch.nn.functional.relu(torch.ones(2), inplace=False)
        """)
    assert api_check.main([path]) == 1
    out = capsys.readouterr().out
    assert f"{path}:4:7: torch.nn.Linear(not_a_kwarg=...): mytorch's nn.Linear takes no keyword argument " \
           f"'not_a_kwarg'" in out
    assert "SGD" not in out and "relu" not in out
    assert "0 missing; 1 keyword argument(s)" in out


def test_repeated_uses_are_grouped(tmp_path, capsys):
    path = _write(tmp_path, "rep.py", "import torch\nx = torch.Nope(1)\ny = torch.Nope(2)\n\nz = torch.Nope\n")
    assert api_check.main([path]) == 1
    out = capsys.readouterr().out
    assert f"{path}:2:5: torch.Nope is missing in mytorch (mytorch has no attribute 'Nope') [also lines 3, 5]" in out


def test_json_output(tmp_path, capsys):
    bad = _write(tmp_path, "bad.py", BAD)
    assert api_check.main(["--json", bad]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [(m["name"], m["line"], m["kind"]) for m in report["missing"]] == [
        ("torch.nn.Foo", 4, "name"), ("torch.linalg.not_a_function", 5, "name"), ("torch.nope.thing", 6, "name")]
    assert "torch.eye" in report["used"] and report["files"] == [bad]
    assert "statically" in report["note"]


def test_unreadable_or_broken_file_exits_2(tmp_path, capsys):
    broken = _write(tmp_path, "broken.py", "import torch\ndef f(:\n")
    assert api_check.main([broken, str(tmp_path / "absent.py")]) == 2
    err = capsys.readouterr().err
    assert "SyntaxError" in err and "absent.py" in err


def test_star_import_is_flagged_not_guessed(tmp_path, capsys):
    path = _write(tmp_path, "star.py", "from torch.nn import *\nx = Linear(2, 2)\n")
    assert api_check.main([path]) == 0
    assert "import *" in capsys.readouterr().err


@pytest.mark.parametrize("path,found", [("torch.nn.functional.scaled_dot_product_attention", True),
                                        ("torch.distributed.all_reduce", True), ("torch.Tensor.add", True),
                                        ("torch.nn.NoSuchLayer", False), ("torch.float32.foo", False)])
def test_resolve(path, found):
    assert (api_check.resolve(path) is None) == found


def test_runs_as_a_module(tmp_path):
    bad = _write(tmp_path, "bad.py", BAD)
    proc = subprocess.run([sys.executable, "-m", "mytorch.utils.api_check", bad], capture_output=True, text=True)
    assert proc.returncode == 1 and "torch.nn.Foo" in proc.stdout
