"""nn.DataParallel: unchanged module on the CPU; on two (fake) GPUs the split batch gives the same outputs
and the same parameter gradients as the whole batch on one."""
import os
import subprocess
import sys
import textwrap

import numpy as np

import mytorch

nn = mytorch.nn


def test_cpu_runs_the_module_and_keeps_torch_state_dict_keys():
    if mytorch.cuda.is_available():
        return  # covered by the two-GPU test
    m = nn.Linear(3, 2)
    dp = nn.DataParallel(m)
    x = mytorch.randn(4, 3)
    np.testing.assert_array_equal(dp(x).detach().numpy(), m(x).detach().numpy())
    assert list(dp.state_dict()) == ["module.weight", "module.bias"] and dp.device_ids == []
    out = nn.parallel.data_parallel(m, x)
    assert out.shape == (4, 2)


TWO_GPUS = textwrap.dedent("""
    import numpy as np
    import mytorch as torch
    nn = torch.nn
    assert torch.cuda.device_count() == 2
    torch.manual_seed(0)
    def build():
        return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2)).to("cuda:0")
    m, ref = build(), build()
    ref.load_state_dict(m.state_dict())
    dp = nn.DataParallel(m)
    assert dp.device_ids == [0, 1] and dp.output_device == 0
    x = torch.randn(6, 4, device="cuda:0")
    # in training each replica's BatchNorm sees its own 3 rows (as in PyTorch): compare in eval mode
    dp.eval(); ref.eval()
    out, want = dp(x), ref(x)
    assert str(out.device) == "cuda:0" and out.shape == (6, 2)
    np.testing.assert_allclose(out.detach().cpu().numpy(), want.detach().cpu().numpy(), rtol=1e-5, atol=1e-6)
    (out ** 2).sum().backward(); (want ** 2).sum().backward()
    for (n, p), (_, q) in zip(m.named_parameters(), ref.named_parameters()):
        assert str(p.grad.device) == "cuda:0", n
        np.testing.assert_allclose(p.grad.cpu().numpy(), q.grad.cpu().numpy(), rtol=1e-5, atol=1e-6, err_msg=n)
    try:
        nn.DataParallel(nn.Linear(2, 2).to("cuda:1"))
        raise AssertionError("parameters on device_ids[1] must be refused")
    except RuntimeError as e:
        assert "device_ids[0]" in str(e)
    dp.train()
    assert dp(x).shape == (6, 2)  # training forward: replica 0 (the module itself) updates the running stats
    print("ok")
""")


def test_two_fake_gpus_match_one_device():
    env = dict(os.environ, MYTORCH_FAKE_CUDA="1")
    res = subprocess.run([sys.executable, "-c", TWO_GPUS], env=env, capture_output=True, text=True, timeout=300,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), res.stderr[-3000:]
