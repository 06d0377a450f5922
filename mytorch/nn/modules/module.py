class Module:  # placeholder until nn.Module lands
    pass
