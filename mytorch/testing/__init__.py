"""Test-only helpers. Nothing here is imported by mytorch unless MYTORCH_FAKE_CUDA=1 asks for the fake GPU."""
