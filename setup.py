# Metadata lives in pyproject.toml; this shim lets older pip versions run `pip install .`.
from setuptools import setup

setup()
