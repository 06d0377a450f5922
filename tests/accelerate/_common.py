"""Small models, data and loops shared by the Accelerator tests."""
import numpy as np

import mytorch
import mytorch.nn as nn
import mytorch.nn.functional as F
from mytorch.utils.data import DataLoader, TensorDataset


def regression_data(n=24, d_in=5, d_out=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d_in)).astype(np.float32)
    y = rng.standard_normal((n, d_out)).astype(np.float32)
    return x, y


def mlp(d_in=5, d_hidden=16, d_out=2, dropout=0.0, seed=0):
    mytorch.manual_seed(seed)
    layers = [nn.Linear(d_in, d_hidden), nn.GELU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(d_hidden, d_out))


def loader(x, y, batch_size, shuffle=False, **kwargs):
    return DataLoader(TensorDataset(mytorch.tensor(x), mytorch.tensor(y)), batch_size=batch_size, shuffle=shuffle,
                      **kwargs)


def mse(model, batch):
    inputs, targets = batch
    return F.mse_loss(model(inputs), targets)


def params(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
