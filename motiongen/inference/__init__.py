"""Inference: sampling from generative checkpoints (seeds, truncation, lengths), HG-VAE imputation
(posterior descent over missing values), occlusion patterns and baseline imputers to measure it."""
