class Parameter:  # placeholder until nn.Parameter lands
    pass


class Buffer:
    pass
