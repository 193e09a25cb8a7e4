"""Inference: sampling from generative checkpoints (seeds, truncation, lengths)."""
