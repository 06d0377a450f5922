"""benchmarks/bench_gpt_char.py on a tiny model: both libraries start from the same weights and follow
the same loss curve on the same batches."""
import os

import numpy as np
import pytest

from tests.scripts.conftest import CORPUS


def test_mytorch_and_torch_train_the_same_char_gpt(capsys):
    pytest.importorskip("torch")
    if not os.path.isfile(CORPUS):
        pytest.skip(f"tiny Shakespeare corpus not found at {CORPUS}")
    from benchmarks.bench_gpt_char import main
    result = main(["--corpus", CORPUS, "--steps", "4", "--warmup", "1", "--batch", "4", "--context", "16",
                   "--n_layer", "1", "--n_head", "2", "--n_embd", "32", "--eval_batches", "2", "--log_every", "1",
                   "--threads", "1"])
    (mine_s, mine_val, mine_losses), (ref_s, ref_val, ref_losses) = result["mytorch"], result["torch"]
    np.testing.assert_allclose(mine_losses, ref_losses, rtol=1e-5)  # same weights, batches and updates
    assert mine_val == pytest.approx(ref_val, rel=1e-5)
    assert mine_s > 0 and ref_s > 0
    out = capsys.readouterr().out
    assert "steps/s" in out and "mytorch time / torch time" in out and "load average" in out
