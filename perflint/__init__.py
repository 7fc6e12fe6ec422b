"""perflint: find and fix performance and memory mistakes in PyTorch, pandas and numpy code."""

__version__ = "0.1.0"
