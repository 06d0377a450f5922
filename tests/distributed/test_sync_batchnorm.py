"""SyncBatchNorm over 2 gloo ranks equals BatchNorm on the concatenated batch: outputs, input and parameter
gradients (summed over ranks, as DDP averages them), running statistics. One process: plain BatchNorm."""
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # started as a worker script by spawn.run_ranks
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.distributed.spawn import run_ranks, save, worker_main  # noqa: E402

import mytorch  # noqa: E402

nn = mytorch.nn


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((8, 3, 5)) * 2 + 1, rng.standard_normal((8, 3, 5))


def sync_worker():
    import mytorch.distributed as dist

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    x, g = _data()
    bn = nn.SyncBatchNorm(3, momentum=0.3).double()
    with mytorch.no_grad():
        bn.weight.copy_(mytorch.tensor([1.5, -0.5, 2.0], dtype=mytorch.float64))
    xs = mytorch.tensor(x[rank * 4:(rank + 1) * 4], requires_grad=True)
    out = bn(xs)
    out.backward(mytorch.tensor(g[rank * 4:(rank + 1) * 4]))
    save(out=out.detach().numpy(), dx=xs.grad.numpy(), dw=bn.weight.grad.numpy(), db=bn.bias.grad.numpy(),
         mean=bn.running_mean.numpy(), var=bn.running_var.numpy())
    dist.destroy_process_group()


def test_sync_batchnorm_matches_the_global_batch(tmp_path):
    ranks = run_ranks(__file__, "sync_worker", tmp_path)
    x, g = _data()
    bn = nn.BatchNorm1d(3, momentum=0.3).double()
    with mytorch.no_grad():
        bn.weight.copy_(mytorch.tensor([1.5, -0.5, 2.0], dtype=mytorch.float64))
    X = mytorch.tensor(x, requires_grad=True)
    out = bn(X)
    out.backward(mytorch.tensor(g))
    np.testing.assert_allclose(np.concatenate([r["out"] for r in ranks]), out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.concatenate([r["dx"] for r in ranks]), X.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ranks[0]["dw"] + ranks[1]["dw"], bn.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ranks[0]["db"] + ranks[1]["db"], bn.bias.grad.numpy(), rtol=1e-10)
    for r in ranks:
        np.testing.assert_allclose(r["mean"], bn.running_mean.numpy(), rtol=1e-10)
        np.testing.assert_allclose(r["var"], bn.running_var.numpy(), rtol=1e-10)


def test_single_process_is_batchnorm_and_convert():
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(conv[1], nn.SyncBatchNorm) and conv[1].weight is model[1].weight
    x = mytorch.randn(2, 2, 6, 6)
    ref = nn.BatchNorm2d(4)
    np.testing.assert_allclose(conv[1](x[:, :1].repeat(1, 4, 1, 1)).detach().numpy(),
                               ref(x[:, :1].repeat(1, 4, 1, 1)).detach().numpy(), rtol=1e-6, atol=1e-6)
    assert list(conv.state_dict()) == list(model.state_dict())


if __name__ == "__main__":
    worker_main(globals())
