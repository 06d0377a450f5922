"""Which torch names does a PyTorch program use that mytorch lacks?

    python -m mytorch.utils.api_check train.py model.py [--json]

The files are parsed, never run. Every name reached from torch is collected: through `import torch`,
`import torch.nn as nn`, `from torch import nn, optim`, `from torch.utils.data import DataLoader`, and
attribute chains on those (`nn.functional.relu`, `torch.cuda.amp.GradScaler`). Each one is looked up on
mytorch (attributes, then submodules), and keyword arguments in calls to them are checked against the mytorch
signature. Methods called on tensors (`x.view(...)`) and other values can't
be resolved without running the program, so they are not checked. Exit status: 0 when everything
resolves, 1 when something is missing, 2 when a file can't be read or parsed.
"""
import argparse
import ast
import importlib
import inspect
import json
import sys
import types

TENSOR_METHODS_NOTE = ("methods called on tensors and other values (x.view(...), model.parameters()) can't be "
                       "resolved statically and are not checked")


class _Collector(ast.NodeVisitor):
    """Walks one module, tracking which local names stand for torch objects, and records each use."""

    def __init__(self):
        self.aliases = {}  # local name -> dotted torch path
        self.uses = []  # (dotted torch path, line, col)
        self.star_imports = []  # lines with `from torch... import *`
        self.keywords = []  # (dotted torch path, keyword names, line, col) of calls with keyword arguments

    # imports bind names ------------------------------------------------------------------
    def visit_Import(self, node):
        for alias in node.names:
            if alias.name != "torch" and not alias.name.startswith("torch."):
                continue
            if alias.asname:  # import torch.nn.functional as F
                self.aliases[alias.asname] = alias.name
            else:  # import torch.nn binds `torch`
                self.aliases["torch"] = "torch"
            self.uses.append((alias.name, node.lineno, node.col_offset))

    def visit_ImportFrom(self, node):
        module = node.module or ""
        if node.level or not (module == "torch" or module.startswith("torch.")):
            return
        for alias in node.names:
            if alias.name == "*":
                self.star_imports.append(node.lineno)
                self.uses.append((module, node.lineno, node.col_offset))
                continue
            path = f"{module}.{alias.name}"
            self.aliases[alias.asname or alias.name] = path
            self.uses.append((path, node.lineno, node.col_offset))

    # uses: the longest attribute chain on a torch name ------------------------------------
    def _torch_path(self, node):
        parts, base = [], node
        while isinstance(base, ast.Attribute):
            parts.append(base.attr)
            base = base.value
        if isinstance(base, ast.Name) and base.id in self.aliases:
            return ".".join([self.aliases[base.id]] + parts[::-1])
        return None

    def visit_Attribute(self, node):
        path = self._torch_path(node)
        if path is not None:
            self.uses.append((path, node.lineno, node.col_offset))
            return  # the inner chain is a prefix of this one
        self.generic_visit(node)

    def visit_Call(self, node):
        path = self._torch_path(node.func)
        names = [k.arg for k in node.keywords if k.arg is not None]  # (**kwargs unpacking can't be checked)
        if path is not None and names:
            self.keywords.append((path, names, node.lineno, node.col_offset))
        self.generic_visit(node)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load) and node.id in self.aliases:
            self.uses.append((self.aliases[node.id], node.lineno, node.col_offset))


def resolve(path):
    """None when the torch path `torch.a.b` exists in mytorch, else why not (the first missing part)."""
    import mytorch

    obj, reached = mytorch, "mytorch"
    for part in path.split(".")[1:]:
        try:
            found = getattr(obj, part)
        except AttributeError:
            found = None
        except Exception as e:  # noqa: BLE001  (a lazy attribute that fails to load is missing too)
            return f"{reached}.{part} failed to load: {type(e).__name__}: {e}"
        if found is None and isinstance(obj, types.ModuleType):
            try:
                found = importlib.import_module(f"{obj.__name__}.{part}")
            except ImportError:
                found = None
        if found is None:
            return f"{reached} has no attribute '{part}'"
        obj, reached = found, f"{reached}.{part}"
    return None


def lookup(path):
    """The mytorch object for a torch path (None when it is missing)."""
    import mytorch

    obj = mytorch
    for part in path.split(".")[1:]:
        found = getattr(obj, part, None)
        if found is None and isinstance(obj, types.ModuleType):
            found = importlib.import_module(f"{obj.__name__}.{part}")
        obj = found
    return obj


def unknown_keywords(path, names):
    """The keyword names mytorch's `path` would reject (none when its signature can't be read or takes **kwargs)."""
    try:
        sig = inspect.signature(lookup(path))
    except (TypeError, ValueError):
        return []
    params = sig.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return []
    accepted = {p.name for p in params if p.kind is not inspect.Parameter.POSITIONAL_ONLY}
    return [n for n in names if n not in accepted]


def check_source(source, filename="<string>"):
    """{'used': sorted torch names, 'missing': [{'file', 'line', 'col', 'name', 'kind', 'reason'}], 'star_imports':
    [...]}; kind is 'name' (mytorch lacks it) or 'keyword' (a keyword argument mytorch's callable rejects)."""
    collector = _Collector()
    collector.visit(ast.parse(source, filename=filename))
    missing, seen, cache = [], set(), {}
    for path, line, col in collector.uses:
        if path not in cache:
            cache[path] = resolve(path)
        if cache[path] is not None and (path, line) not in seen:
            seen.add((path, line))
            missing.append({"file": filename, "line": line, "col": col, "name": path, "kind": "name",
                            "reason": cache[path]})
    for path, names, line, col in collector.keywords:
        if cache.get(path, "missing") is not None:
            continue  # the name itself is missing (reported above) or was never looked up
        for name in unknown_keywords(path, names):
            missing.append({"file": filename, "line": line, "col": col, "name": f"{path}({name}=...)",
                            "kind": "keyword",
                            "reason": f"mytorch's {path[len('torch.'):]} takes no keyword argument '{name}'"})
    missing.sort(key=lambda m: (m["line"], m["col"]))
    return {"used": sorted(cache), "missing": missing, "star_imports": collector.star_imports}


def check_files(paths):
    """Results for several files: {'files', 'used', 'missing', 'errors', 'note'}."""
    used, missing, errors = set(), [], []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                source = f.read()
            result = check_source(source, path)
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError) as e:
            errors.append({"file": path, "error": f"{type(e).__name__}: {e}"})
            continue
        used.update(result["used"])
        missing.extend(result["missing"])
        for line in result["star_imports"]:
            errors.append({"file": path, "error": f"line {line}: `from torch... import *` hides which names are "
                                                  f"used; only names reached through other imports are checked"})
    return {"files": list(paths), "used": sorted(used), "missing": missing, "errors": errors,
            "note": TENSOR_METHODS_NOTE}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mytorch.utils.api_check",
                                     description="List the torch names a program uses that mytorch lacks.")
    parser.add_argument("files", nargs="+", help="Python source files to check")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    report = check_files(args.files)
    unreadable = [e for e in report["errors"] if "import *" not in e["error"]]
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for e in report["errors"]:
            print(f"{e['file']}: {e['error']}", file=sys.stderr)
        groups = {}  # one line per file and name; later uses listed by line number
        for m in report["missing"]:
            groups.setdefault((m["file"], m["name"]), []).append(m)
        for (file, name), ms in groups.items():
            m, more = ms[0], sorted({x["line"] for x in ms[1:]} - {ms[0]["line"]})
            where = f"{file}:{m['line']}:{m['col'] + 1}"
            text = f"{name}: {m['reason']}" if m["kind"] == "keyword" else \
                f"{name} is missing in mytorch ({m['reason']})"
            print(f"{where}: {text}" + (f" [also line{'s' * (len(more) > 1)} {', '.join(map(str, more))}]"
                                        if more else ""))
        names = {m["name"] for m in report["missing"] if m["kind"] == "name"}
        keywords = sum(m["kind"] == "keyword" for m in report["missing"])
        print(f"{len(report['used'])} torch names used, {len(report['used']) - len(names)} found in mytorch, "
              f"{len(names)} missing; {keywords} keyword argument(s) mytorch doesn't take. "
              f"Not checked: {TENSOR_METHODS_NOTE}.")
    if unreadable:
        return 2
    return 1 if report["missing"] else 0


if __name__ == "__main__":
    sys.exit(main())
