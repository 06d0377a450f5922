"""Module, Parameter, containers, state_dict, hooks, conversion and nn.utils against PyTorch."""
import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import mytorch
from mytorch import nn
from tests.helpers import assert_close, randn


def th_repr(module):
    return repr(module).replace("torch.", "mytorch.")


def to_mt_state(th_state):
    return OrderedDict((k, mytorch.tensor(v.detach().numpy())) for k, v in th_state.items())


def build_net(m):
    """The same nested model in either framework (m is torch.nn or mytorch.nn)."""

    class Block(m.Module):
        def __init__(self, width):
            super().__init__()
            self.fc = m.Linear(width, width)
            self.act = m.GELU()
            self.register_buffer("scale", torch.ones(width) if m is torch.nn else mytorch.ones(width))
            self.register_buffer("cache", torch.zeros(2) if m is torch.nn else mytorch.zeros(2), persistent=False)

        def forward(self, x):
            return self.act(self.fc(x)) * self.scale

    class Net(m.Module):
        def __init__(self):
            super().__init__()
            self.embed = m.Embedding(10, 4)
            self.blocks = m.ModuleList([Block(4) for _ in range(2)])
            self.heads = m.ModuleDict({"a": m.Linear(4, 3), "b": m.Sequential(m.Linear(4, 4), m.ReLU())})
            self.out = m.Linear(4, 10, bias=False)
            self.out.weight = self.embed.weight  # tied weights
            self.alpha = m.Parameter(torch.tensor(0.5) if m is torch.nn else mytorch.tensor(0.5))

        def forward(self, idx):
            h = self.embed(idx)
            for block in self.blocks:
                h = block(h)
            return self.out(self.heads["b"](h)) * self.alpha

    return Net()


@pytest.fixture
def nets():
    th = build_net(torch.nn).double()
    mt = build_net(nn).double()
    mt.load_state_dict(to_mt_state(th.state_dict()))
    return mt, th


# ---------------------------------------------------------------------------------------------
# Parameter
# ---------------------------------------------------------------------------------------------
def test_parameter_basics():
    data = mytorch.randn(2, 3)
    p = nn.Parameter(data)
    assert isinstance(p, mytorch.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf
    p.detach().numpy()[0, 0] = 5.0  # shares storage with data
    assert data[0, 0].item() == 5.0
    assert not nn.Parameter(data, requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    t = torch.nn.Parameter(torch.tensor([[1.0, 2.0]]))
    assert repr(nn.Parameter(mytorch.tensor([[1.0, 2.0]]))) == repr(t)
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q.requires_grad and q is not p
    assert_close(q, p.detach().numpy())
    r = pickle.loads(pickle.dumps(p))
    assert type(r) is nn.Parameter and r.requires_grad
    with pytest.raises(RuntimeError):
        nn.Parameter(mytorch.tensor([1, 2]))  # integer data cannot require grad


def test_buffer_assignment_registers():
    m = nn.Module()
    m.buf = nn.Buffer(mytorch.zeros(3))
    m.tmp = nn.Buffer(mytorch.ones(2), persistent=False)
    assert [n for n, _ in m.named_buffers()] == ["buf", "tmp"]
    assert list(m.state_dict()) == ["buf"]


# ---------------------------------------------------------------------------------------------
# registration and traversal
# ---------------------------------------------------------------------------------------------
def test_names_match_torch(nets):
    mt, th = nets
    for fn in ("named_parameters", "named_buffers", "named_modules", "named_children"):
        assert [n for n, _ in getattr(mt, fn)()] == [n for n, _ in getattr(th, fn)()], fn
    assert [n for n, _ in mt.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in th.named_parameters(remove_duplicate=False)]
    assert [n for n, _ in mt.named_parameters(prefix="model", recurse=False)] == ["model.alpha"]
    assert [n for n, _ in mt.named_modules(prefix="root")][:2] == ["root", "root.embed"]
    assert list(mt.state_dict()) == list(th.state_dict())
    assert len(list(mt.parameters())) == len(list(th.parameters()))
    assert len(list(mt.modules())) == len(list(th.modules()))
    assert mt.out.weight is mt.embed.weight


def test_forward_and_grads_match_torch(nets):
    mt, th = nets
    idx = [[1, 2, 3], [4, 5, 9]]
    out_m, out_t = mt(mytorch.tensor(idx)), th(torch.tensor(idx))
    assert_close(out_m, out_t)
    out_m.sum().backward()
    out_t.sum().backward()
    th_params = dict(th.named_parameters())
    for name, p in mt.named_parameters():
        assert_close(p.grad, th_params[name].grad, msg=name)


def test_repr_matches_torch(nets):
    mt, th = nets
    assert repr(mt) == th_repr(th)
    seq = lambda m: m.Sequential(OrderedDict([("conv", m.Linear(2, 2)), ("act", m.ReLU())]))  # noqa: E731
    assert repr(seq(nn)) == th_repr(seq(torch.nn))
    mixed = lambda m: m.ModuleList([m.Linear(2, 2), m.Linear(2, 2), m.ReLU(), m.Linear(2, 2)])  # noqa: E731
    assert repr(mixed(nn)) == th_repr(mixed(torch.nn))
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())
    plist = nn.ParameterList([nn.Parameter(mytorch.zeros(2, 3)), mytorch.ones(4)])
    th_plist = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2, 3)), torch.ones(4)])
    assert repr(plist) == th_repr(th_plist)
    pdict = nn.ParameterDict({"b": nn.Parameter(mytorch.zeros(2)), "a": mytorch.ones(3, 1)})
    th_pdict = torch.nn.ParameterDict({"b": torch.nn.Parameter(torch.zeros(2)), "a": torch.ones(3, 1)})
    assert repr(pdict) == repr(th_pdict)  # both name the type "torch.FloatTensor" (Tensor.type())


def test_setattr_getattr_delattr():
    m = nn.Module()
    m.w = nn.Parameter(mytorch.zeros(2))
    m.child = nn.Linear(2, 2)
    m.register_buffer("b", mytorch.zeros(1))
    m.plain = 3
    assert "w" in m._parameters and "child" in m._modules and m.plain == 3
    with pytest.raises(TypeError, match="cannot assign 'torch.FloatTensor' as parameter 'w'"):
        m.w = mytorch.zeros(2)
    with pytest.raises(TypeError, match="as child module 'child'"):
        m.child = 3
    m.b = mytorch.ones(1)  # a tensor assigned to a buffer name stays a buffer
    assert m._buffers["b"].item() == 1.0
    m.w = None
    assert m.w is None and list(m.parameters()) == list(m.child.parameters())
    m.child = nn.Parameter(mytorch.zeros(1))  # re-registering under another kind moves it
    assert "child" not in m._modules and "child" in m._parameters
    del m.child, m.b, m.plain
    assert not hasattr(m, "child") and not hasattr(m, "b") and not hasattr(m, "plain")
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nothing'"):
        m.nothing
    assert "w" in dir(m)


@pytest.mark.parametrize("call,exc,msg", [
    (lambda m: m.register_buffer("a.b", None), KeyError, 'contain "."'),
    (lambda m: m.register_buffer("", None), KeyError, "empty string"),
    (lambda m: m.register_buffer(1, None), TypeError, "buffer name should be a string"),
    (lambda m: m.register_buffer("x", 3), TypeError, "cannot assign 'int' object to buffer 'x'"),
    (lambda m: m.register_buffer("training", None), KeyError, "attribute 'training' already exists"),
    (lambda m: m.register_parameter("p", mytorch.zeros(1)), TypeError, "cannot assign 'torch.FloatTensor' object"),
    (lambda m: m.register_parameter("p.q", None), KeyError, 'contain "."'),
    (lambda m: m.add_module("m", 3), TypeError, "int is not a Module subclass"),
    (lambda m: m.add_module("a.b", nn.ReLU()), KeyError, 'contain ".", got: a.b'),
    (lambda m: m.get_submodule("lin.nope"), AttributeError, "Linear has no attribute `nope`"),
    (lambda m: m.get_submodule("lin.weight"), AttributeError, "`weight` is not an nn.Module"),
    (lambda m: m.get_parameter("lin.nope"), AttributeError, "Linear has no attribute `nope`"),
    (lambda m: m.get_parameter("lin"), AttributeError, "`lin` is not an nn.Parameter"),
    (lambda m: m.get_buffer("lin.weight"), AttributeError, "`weight` is not a buffer"),
    (lambda m: m.train("yes"), ValueError, "training mode is expected to be boolean"),
    (lambda m: m.to(mytorch.int64), TypeError, "only accepts floating point"),
    (lambda m: m.load_state_dict([1]), TypeError, "Expected state_dict to be dict-like"),
])
def test_registration_errors(call, exc, msg):
    m = nn.Module()
    m.lin = nn.Linear(2, 2)
    with pytest.raises(exc, match=msg.replace("(", r"\(").replace("[", r"\[")):
        call(m)


def test_non_leaf_parameter_rejected():
    p = nn.Parameter(mytorch.zeros(2))
    q = nn.Parameter(mytorch.zeros(2))
    q.grad_fn = (p * 2).grad_fn  # a Parameter that is the output of an op
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'q'"):
        nn.Module().register_parameter("q", q)


def test_get_submodule_parameter_buffer(nets):
    mt, _ = nets
    assert mt.get_submodule("") is mt
    assert mt.get_submodule("blocks.1.fc") is mt.blocks[1].fc
    assert mt.get_parameter("heads.a.bias") is mt.heads["a"].bias
    assert mt.get_buffer("blocks.0.scale") is mt.blocks[0].scale
    new = nn.Linear(4, 4)
    mt.set_submodule("heads.b.0", new)
    assert mt.heads["b"][0] is new


# ---------------------------------------------------------------------------------------------
# state_dict / load_state_dict
# ---------------------------------------------------------------------------------------------
def test_state_dict_contents(nets):
    mt, th = nets
    sd = mt.state_dict()
    assert isinstance(sd, OrderedDict)
    assert "blocks.0.cache" not in sd and "blocks.0.scale" in sd
    assert not sd["embed.weight"].requires_grad and sd["embed.weight"].grad_fn is None
    assert mt.state_dict(keep_vars=True)["embed.weight"] is mt.embed.weight
    assert list(mt.state_dict(prefix="net.")) == ["net." + k for k in th.state_dict()]
    assert list(sd._metadata) == list(th.state_dict()._metadata)


def test_load_state_dict_in_place_keeps_identity(nets):
    mt, th = nets
    weight = mt.blocks[0].fc.weight
    new = OrderedDict((k, v * 0 + 3) for k, v in mt.state_dict().items())
    result = mt.load_state_dict(new)
    assert repr(result) == "<All keys matched successfully>"
    assert mt.blocks[0].fc.weight is weight and weight.requires_grad
    assert (weight.detach().numpy() == 3).all()
    # numpy arrays are accepted too, and 'assign' replaces the parameters
    mt.load_state_dict({k: v.detach().numpy() * 2 for k, v in th.state_dict().items()}, assign=True)
    assert mt.blocks[0].fc.weight is not weight and isinstance(mt.blocks[0].fc.weight, nn.Parameter)
    assert_close(mt.blocks[0].fc.weight, th.blocks[0].fc.weight * 2)


def _error_text(fn, from_torch=False):
    with pytest.raises(RuntimeError) as info:
        fn()
    return str(info.value).replace("torch.", "mytorch.") if from_torch else str(info.value)


@pytest.mark.parametrize("edit", ["missing", "unexpected", "both", "shape", "nested_unexpected"])
def test_load_state_dict_errors_match_torch(nets, edit):
    mt, th = nets
    sd_t = th.state_dict()
    if edit in ("missing", "both"):
        del sd_t["heads.a.bias"]
    if edit in ("unexpected", "both"):
        sd_t["heads.a.extra"] = torch.zeros(1)
    if edit == "nested_unexpected":
        sd_t["nothere.weight"] = torch.zeros(1)
    if edit == "shape":
        sd_t["heads.a.weight"] = torch.zeros(2, 2, dtype=torch.float64)
    sd_m = to_mt_state(sd_t)
    assert _error_text(lambda: mt.load_state_dict(sd_m)) == _error_text(lambda: th.load_state_dict(sd_t), True)
    if edit != "shape":
        res_m, res_t = mt.load_state_dict(sd_m, strict=False), th.load_state_dict(sd_t, strict=False)
        assert res_m.missing_keys == res_t.missing_keys and res_m.unexpected_keys == res_t.unexpected_keys
        assert repr(res_m) == repr(res_t)
    else:
        with pytest.raises(RuntimeError, match="size mismatch for heads.a.weight: copying a param with shape"):
            mt.load_state_dict(sd_m, strict=False)


def test_state_dict_roundtrip_between_models():
    a, b = build_net(nn), build_net(nn)
    b.load_state_dict(a.state_dict())
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        assert_close(q, p.detach().numpy(), msg=n)


def test_load_state_dict_hooks():
    m = nn.Linear(2, 2)
    seen = []
    m.register_load_state_dict_post_hook(lambda mod, keys: seen.append(list(keys.missing_keys)))
    m.load_state_dict({"weight": mytorch.zeros(2, 2)}, strict=False)
    assert seen == [["bias"]]


# ---------------------------------------------------------------------------------------------
# modes, grads, conversion, apply
# ---------------------------------------------------------------------------------------------
def test_train_eval_propagates(nets):
    mt, _ = nets
    assert mt.training and all(m.training for m in mt.modules())
    assert mt.eval() is mt
    assert not any(m.training for m in mt.modules())
    mt.train()
    assert all(m.training for m in mt.modules())


def test_zero_grad_and_requires_grad(nets):
    mt, _ = nets
    (mt(mytorch.tensor([[1, 2]])).sum() + sum(p.sum() for p in mt.parameters())).backward()
    assert all(p.grad is not None for p in mt.parameters())
    mt.zero_grad(set_to_none=False)
    assert all(not p.grad.numpy().any() for p in mt.parameters())
    mt.zero_grad()
    assert all(p.grad is None for p in mt.parameters())
    mt.requires_grad_(False)
    assert not any(p.requires_grad for p in mt.parameters())


def test_to_and_dtype_conversion_keep_parameter_objects():
    m = nn.Sequential(nn.Linear(3, 2), nn.Embedding(4, 2))
    m[0].register_buffer("steps", mytorch.tensor([1, 2]))
    weight = m[0].weight
    m[0](mytorch.randn(1, 3)).sum().backward()
    assert m.double() is m
    assert m[0].weight is weight and weight.dtype == mytorch.float64 and weight.grad.dtype == mytorch.float64
    assert m[0].steps.dtype == mytorch.int64  # integer buffers keep their dtype
    m.to(mytorch.float32)
    assert weight.dtype == mytorch.float32 and isinstance(m[0].weight, nn.Parameter)
    m.half()
    assert m[1].weight.dtype == mytorch.float16
    m.float().to("cpu").cpu()
    assert m[0].weight.device.type == "cpu" and m[0].weight.dtype == mytorch.float32
    m.to(mytorch.zeros(1, dtype=mytorch.float64))
    assert m[1].weight.dtype == mytorch.float64
    m.type(mytorch.float32)
    assert m[1].weight.dtype == mytorch.float32


def test_apply_and_deepcopy(nets):
    mt, _ = nets
    visited = []

    def init_fn(module):
        visited.append(type(module).__name__)
        if isinstance(module, nn.Linear):
            nn.init.zeros_(module.weight)

    mt.apply(init_fn)
    assert visited[-1] == "Net" and visited.count("Linear") == 5
    assert not mt.heads["a"].weight.detach().numpy().any()
    clone = copy.deepcopy(mt)
    assert clone.out.weight is clone.embed.weight  # sharing survives deepcopy
    assert clone.embed.weight is not mt.embed.weight
    assert_close(clone(mytorch.tensor([1, 2])), mt(mytorch.tensor([1, 2])).detach().numpy())


def test_missing_forward():
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        nn.Module()(1)


# ---------------------------------------------------------------------------------------------
# hooks
# ---------------------------------------------------------------------------------------------
def test_forward_hooks():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append(out.shape) or out + 1)
    x = mytorch.randn(3, 2)
    out = m(x)
    assert calls == [(3, 2)]
    assert_close(out, (m.bias + 1).expand(3, 2).detach().numpy())
    h1.remove()
    h2.remove()
    assert_close(m(x), (x @ m.weight.T + m.bias).detach().numpy())
    m.register_forward_pre_hook(lambda mod, args, kwargs: ((args[0] * 2,), kwargs), with_kwargs=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: out * 0, with_kwargs=True)
    assert not m(x).detach().numpy().any()
    with m.register_forward_hook(lambda mod, args, out: out + 5):
        pass  # a handle is a context manager that removes the hook


def test_hook_order_prepend():
    m = nn.Identity()
    order = []
    m.register_forward_hook(lambda *a: order.append("first"))
    m.register_forward_hook(lambda *a: order.append("prepended"), prepend=True)
    m(mytorch.zeros(1))
    assert order == ["prepended", "first"]


@pytest.mark.parametrize("scale_grad_input", [False, True])
def test_full_backward_hook_matches_torch(scale_grad_input):
    records = {}

    def run(fw, tensor):
        lin = fw.Linear(3, 2).double()
        if fw is nn:
            lin.load_state_dict(to_mt_state(records["th_state"]))
        else:
            records["th_state"] = lin.state_dict()
        got = []

        def hook(mod, grad_input, grad_output):
            got.append((grad_input, grad_output))
            if scale_grad_input:
                return tuple(g * 3 for g in grad_input)

        lin.register_full_backward_hook(hook)
        pre = []
        lin.register_full_backward_pre_hook(lambda mod, go: pre.append(go[0].shape))
        x = tensor(randn(4, 3, seed=1), dtype=fw_dtype(fw), requires_grad=True)
        (lin(x) ** 2).sum().backward()
        return got, x.grad, pre

    def fw_dtype(fw):
        return torch.float64 if fw is torch.nn else mytorch.float64

    got_t, gx_t, pre_t = run(torch.nn, torch.tensor)
    got_m, gx_m, pre_m = run(nn, mytorch.tensor)
    assert len(got_m) == len(got_t) == 1 and pre_m == [tuple(s) for s in pre_t]
    assert_close(got_m[0][0], got_t[0][0], msg="grad_input")
    assert_close(got_m[0][1], got_t[0][1], msg="grad_output")
    assert_close(gx_m, gx_t)


def test_backward_hook_without_input_grad():
    lin = nn.Linear(3, 2)
    got = []
    lin.register_full_backward_hook(lambda mod, gi, go: got.append((gi, go[0].shape)))
    lin(mytorch.randn(4, 3)).sum().backward()
    assert got == [((None,), (4, 2))]


# ---------------------------------------------------------------------------------------------
# containers
# ---------------------------------------------------------------------------------------------
def test_sequential():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and seq[0] is layers[0] and seq[-1] is layers[2]
    assert list(seq) == layers
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == layers[1:]
    x = mytorch.randn(4, 2)
    assert_close(seq(x), layers[2](layers[1](layers[0](x))).detach().numpy())
    seq.append(nn.Tanh())
    assert len(seq) == 4 and isinstance(seq[3], nn.Tanh)
    del seq[1]
    assert [type(m).__name__ for m in seq] == ["Linear", "Linear", "Tanh"]
    assert list(seq._modules) == ["0", "1", "2"]
    seq[0] = nn.Identity()
    assert isinstance(seq[0], nn.Identity)
    seq.insert(1, nn.ReLU())
    assert isinstance(seq[1], nn.ReLU) and len(seq) == 4
    with pytest.raises(IndexError, match="index 7 is out of range"):
        seq[7]
    named = nn.Sequential(OrderedDict([("first", nn.Linear(1, 1)), ("second", nn.ReLU())]))
    assert [n for n, _ in named.named_children()] == ["first", "second"] and isinstance(named.second, nn.ReLU)
    assert len(named + nn.Sequential(nn.ReLU())) == 3


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    ml += [nn.Sigmoid()]
    assert len(ml) == 6 and isinstance(ml[-1], nn.Sigmoid) and len(ml[1:3]) == 2
    ml.insert(0, nn.GELU())
    assert isinstance(ml[0], nn.GELU) and len(ml) == 7
    assert len(list(ml.parameters())) == 6
    del ml[0]
    assert isinstance(ml[0], nn.Linear)
    md = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Linear(1, 1)})
    assert list(md.keys()) == ["b", "a"] and "a" in md and len(md) == 2
    md["c"] = nn.Tanh()
    assert isinstance(md.pop("c"), nn.Tanh) and len(md) == 2
    md.update([("d", nn.Identity())])
    assert list(md) == ["b", "a", "d"]
    assert len(list(md.parameters())) == 2


def test_parameter_list_and_dict():
    pl = nn.ParameterList([mytorch.zeros(2), nn.Parameter(mytorch.ones(3))])
    assert all(isinstance(p, nn.Parameter) for p in pl) and len(pl) == 2
    pl.append(mytorch.zeros(1))
    assert len(list(pl.parameters())) == 3 and [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    pd = nn.ParameterDict({"w": mytorch.zeros(2)})
    pd["b"] = nn.Parameter(mytorch.ones(1))
    assert isinstance(pd["w"], nn.Parameter) and list(pd.keys()) == ["w", "b"] and "b" in pd
    assert [n for n, _ in pd.named_parameters()] == ["w", "b"]
    assert pd.pop("w").shape == (2,) and len(pd) == 1
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        pl()


# ---------------------------------------------------------------------------------------------
# nn.utils
# ---------------------------------------------------------------------------------------------
def _grads_pair(shapes, seed=0):
    rng = np.random.default_rng(seed)
    mt_params, th_params = [], []
    for s in shapes:
        d, g = rng.standard_normal(s).astype(np.float32), rng.standard_normal(s).astype(np.float32)
        p = nn.Parameter(mytorch.tensor(d))
        p.grad = mytorch.tensor(g)
        q = torch.nn.Parameter(torch.tensor(d))
        q.grad = torch.tensor(g)
        mt_params.append(p)
        th_params.append(q)
    return mt_params, th_params


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, float("inf"), 0])
@pytest.mark.parametrize("max_norm", [0.5, 1000.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    mt_params, th_params = _grads_pair([(4, 5), (7,), (2, 3, 2)])
    total_m = nn.utils.clip_grad_norm_(mt_params, max_norm, norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(th_params, max_norm, norm_type)
    assert_close(total_m, total_t, rtol=1e-5)
    for p, q in zip(mt_params, th_params):
        assert_close(p.grad, q.grad, rtol=1e-5)


def test_clip_grad_norm_edge_cases():
    p = nn.Parameter(mytorch.ones(3))
    assert nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0  # no grads at all
    p.grad = mytorch.tensor([float("inf"), 1.0, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    q = nn.Parameter(mytorch.ones(2))
    q.grad = mytorch.tensor([3.0, 4.0])
    assert nn.utils.clip_grad_norm_(q, 1.0).item() == pytest.approx(5.0)  # a single tensor is accepted
    np.testing.assert_allclose(q.grad.numpy(), [0.6, 0.8], rtol=1e-5)


def test_clip_grad_value_matches_torch():
    mt_params, th_params = _grads_pair([(4, 5), (6,)], seed=2)
    nn.utils.clip_grad_value_(mt_params, 0.3)
    torch.nn.utils.clip_grad_value_(th_params, 0.3)
    for p, q in zip(mt_params, th_params):
        assert_close(p.grad, q.grad)


def test_parameters_to_vector_roundtrip():
    m, t = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    m.load_state_dict(to_mt_state(t.state_dict()))
    vec_m = nn.utils.parameters_to_vector(m.parameters())
    vec_t = torch.nn.utils.parameters_to_vector(t.parameters())
    assert_close(vec_m, vec_t)
    nn.utils.vector_to_parameters(vec_m * 2, m.parameters())
    torch.nn.utils.vector_to_parameters(vec_t * 2, t.parameters())
    assert_close(m.weight, t.weight)
    assert_close(m.bias, t.bias)
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        nn.utils.vector_to_parameters([1.0], m.parameters())


def test_hook_handles_are_utils_hooks_removable_handles():
    from mytorch.utils.hooks import RemovableHandle

    lin = mytorch.nn.Linear(2, 2)
    opt = mytorch.optim.SGD(lin.parameters(), lr=0.1)
    calls = []
    handles = [lin.register_forward_hook(lambda *a, **k: calls.append("f"), with_kwargs=True, always_call=True),
               lin.register_forward_pre_hook(lambda *a: calls.append("pre")),
               opt.register_step_post_hook(lambda *a: calls.append("step"))]
    assert all(isinstance(h, RemovableHandle) for h in handles)
    assert len({h.id for h in handles}) == 3
    lin(mytorch.ones(1, 2)).sum().backward()
    opt.step()
    assert calls == ["pre", "f", "step"]
    for h in handles:
        with h:
            pass  # leaving the with block removes the hook
    assert not (lin._forward_hooks or lin._forward_hooks_with_kwargs or lin._forward_hooks_always_called
                or lin._forward_pre_hooks or opt._optimizer_step_post_hooks)
    handles[0].remove()  # removing twice is harmless
