"""Symbolic building blocks: activations, losses, metrics, initializers, dropout, kernels."""
