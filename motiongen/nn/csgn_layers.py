"""Layers of CSGN (Yan, Li, Xiong, Yan, Lin, ICCV 2019, "Convolutional Sequence Generation for
Skeleton-Based Action Synthesis").

- `GaussianProcessPrior`: CSGN's latent *sequence*. Channel c = 1..C of z is an
  independent zero-mean Gaussian process over latent time with the RBF kernel
  ``k_c(t, t') = exp(-(t - t')² / (2 σ_c²))`` and ``σ_c = (c / C) · σ̄`` — a spectrum of length
  scales, from nearly white noise to slow drifts. Samples are ``z_c = F_c ε_c`` with white noise ε
  drawn per sample from its own seeded CPU generator, so a sample depends on its seed only.
  ``F_c`` is the Cholesky factor of the kernel matrix for short sequences and a circulant
  embedding (FFT) for long ones; both give the exact covariance (see `GaussianProcessPrior`).
- `SpatiallyVaryingGraphConv`: the generator's graph convolution whose weights are NOT shared
  across vertices — one weight matrix per (vertex, neighbour) pair, ``y_v = b_v + Σ_{u ∈ N(v) ∪ {v}}
  W_{v,u} x_u`` — because after graph upsampling each vertex of a coarse level stands for a
  different body part.
- `PartitionGraphConv`: the ST-GCN spatial graph convolution with weights shared across vertices
  (three spatial partitions), used by the critic and the encoder.

- `TemporalConv`, `ChannelsLastBatchNorm`, `upsample_time_linear`: the generator's other layers,
  written for its vertex-major, channels-last layout ``[V, B, T, C]`` (every graph operation is
  then a contiguous batched matmul over the leading vertex dimension).

The critic's tensors are ``[B, C, T, V]`` (ST-GCN order); the generator's are ``[V, B, T, C]``
inside and ``[B, C, T, V]`` at its output.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

__all__ = [
    "GaussianProcessPrior",
    "SpatiallyVaryingGraphConv",
    "TemporalConv",
    "ChannelsLastBatchNorm",
    "upsample_time_linear",
    "PartitionGraphConv",
]


# --- Gaussian-process latent sequences ---------------------------------------------------------


class GaussianProcessPrior:
    """Independent RBF Gaussian processes, one per latent channel, on an integer time grid.

    ``length_scales`` ``[C]`` are in grid steps (latent steps). Sampling a sequence of ``L`` steps:

    - ``L ≤ cholesky_max_steps``: ``z_c = chol(K_c + jitter·I) ε_c`` with ``ε_c ∈ R^L``; the
      factors ``[C, L, L]`` are computed once and cached per ``L``.
    - longer: circulant embedding. The kernel is periodised on ``M = L + pad`` points
      (``pad ≥ 10 σ_max``, so the wrap-around adds at most ``exp(-50)`` to any covariance the
      first ``L`` points see); the circulant's eigenvalues ``λ = DFT(row)`` are those of a sampled
      periodised Gaussian, which are positive (Poisson summation), so ``z = IDFT(√λ · DFT(ε))``
      with ``ε ∈ R^M`` has covariance exactly the circulant matrix, and its first ``L`` entries the
      RBF kernel. Cost ``O(C M log M)`` per sample: 62 500 steps (a million frames) take
      milliseconds. The cached ``√λ`` is ``[C, M/2 + 1]``.

    The cache lives on this object (never in a state dict) and keeps the ``cache_size`` most
    recently used lengths. Factors and products are float64 (rounded to float32 at the end), so a
    sample's values do not depend on how many others share its batch (matmul blocking changes the
    float32 rounding, float64 keeps it below float32's resolution).
    """

    jitter = 1e-6  # added to the kernel diagonal before Cholesky (relative to unit variance)

    def __init__(self, length_scales: np.ndarray, cholesky_max_steps: int = 64, cache_size: int = 8):
        self.length_scales = np.asarray(length_scales, dtype=np.float64)
        self.cholesky_max_steps = int(cholesky_max_steps)
        self.cache_size = int(cache_size)
        self._factors: OrderedDict[int, torch.Tensor] = OrderedDict()

    @property
    def channels(self) -> int:
        return len(self.length_scales)

    def noise_length(self, steps: int) -> int:
        """How many white-noise values per channel a sample of ``steps`` latent steps consumes."""
        if steps <= self.cholesky_max_steps:
            return steps
        return steps + int(math.ceil(10.0 * float(self.length_scales.max()))) + 1

    def factor(self, steps: int) -> torch.Tensor:
        """Cholesky factors ``[C, L, L]`` or circulant square-root spectra ``[C, M//2 + 1]``."""
        cached = self._factors.get(steps)
        if cached is not None:
            self._factors.move_to_end(steps)
            return cached
        if steps <= self.cholesky_max_steps:
            factor = self._cholesky(steps)
        else:
            factor = self._circulant(self.noise_length(steps))
        self._factors[steps] = factor
        while len(self._factors) > self.cache_size:
            self._factors.popitem(last=False)
        return factor

    def _kernel(self, lags: torch.Tensor) -> torch.Tensor:
        """``k_c(lag)`` for every channel: ``[C, *lags.shape]`` float64 (σ → 0 gives white noise)."""
        scales = torch.as_tensor(self.length_scales, dtype=torch.float64)
        scales = scales.reshape(-1, *([1] * lags.dim())).clamp_min(1e-12)
        return torch.exp(-0.5 * (lags[None] / scales) ** 2)

    def _cholesky(self, steps: int) -> torch.Tensor:
        grid = torch.arange(steps, dtype=torch.float64)
        kernel = self._kernel(grid[:, None] - grid[None, :])
        kernel = kernel + self.jitter * torch.eye(steps, dtype=torch.float64)
        return torch.linalg.cholesky(kernel)

    def _circulant(self, size: int) -> torch.Tensor:
        index = torch.arange(size, dtype=torch.float64)
        # Periodise, Σ_n k(j + n M): for 0 ≤ j < M only n = -1, 0 matter (M ≥ 10 σ makes the rest < e^-50).
        row = self._kernel(index).add_(self._kernel(index - size))  # [C, M]
        eigenvalues = torch.fft.rfft(row, dim=-1).real.clamp_min(0.0)
        return eigenvalues.sqrt()

    def sample(self, noise: torch.Tensor, steps: int) -> torch.Tensor:
        """Map white noise ``[B, C, noise_length(steps)]`` to float32 GP samples ``[B, C, steps]``."""
        factor = self.factor(steps)
        noise = noise.to(torch.float64)
        if steps <= self.cholesky_max_steps:
            return torch.einsum("cij,bcj->bci", factor, noise).to(torch.float32)
        spectrum = torch.fft.rfft(noise, dim=-1) * factor
        return torch.fft.irfft(spectrum, n=noise.shape[-1], dim=-1)[..., :steps].to(torch.float32)


# --- graph convolutions ------------------------------------------------------------------------


class SpatiallyVaryingGraphConv(nn.Module):
    """Graph convolution with one weight matrix per (vertex, neighbour) pair (CSGN's spatially-varying GCN).

    Vertex-major: ``x [V, B, T, C_in] -> y [V, B, T, C_out]`` with
    ``y[v] = b_v + Σ_{u ∈ N(v) ∪ {v}} x[u] W_{v,u}``. Vectorised over the ``E = V + 2·edges``
    (vertex, neighbour) pairs: gather the sources ``[E, B·T, C_in]``, one batched matmul with the
    weights ``[E, C_in, C_out]``, and an ``index_add`` into the receiving vertices. Keeping vertices
    as the leading dimension makes all three steps contiguous (no strided gathers, no permutes).
    """

    def __init__(self, in_channels: int, out_channels: int, adjacency: np.ndarray, gain: float = 1.0):
        super().__init__()
        connected = (np.asarray(adjacency) > 0) | np.eye(len(adjacency), dtype=bool)
        receiver, source = np.nonzero(connected)  # pair e: vertex receiver[e] reads vertex source[e]
        degree = connected.sum(1)
        self.vertex_count = len(adjacency)
        self.out_channels = out_channels
        self.register_buffer("source", torch.as_tensor(source, dtype=torch.long), persistent=False)
        self.register_buffer("receiver", torch.as_tensor(receiver, dtype=torch.long), persistent=False)
        # Each output sums deg(v) terms of in_channels inputs: scale so its variance matches the input's.
        std = torch.as_tensor(gain / np.sqrt(in_channels * degree[receiver]), dtype=torch.float32)
        self.weight = nn.Parameter(torch.randn(len(receiver), in_channels, out_channels) * std[:, None, None])
        self.bias = nn.Parameter(torch.zeros(self.vertex_count, 1, out_channels))

    @property
    def pair_count(self) -> int:
        return self.weight.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        vertices, batch, frames, channels = x.shape
        gathered = x.index_select(0, self.source).reshape(self.pair_count, batch * frames, channels)
        per_pair = torch.bmm(gathered, self.weight.to(gathered.dtype))  # [E, B·T, C_out]
        summed = per_pair.new_zeros(vertices, batch * frames, self.out_channels).index_add_(0, self.receiver, per_pair)
        return (summed + self.bias.to(summed.dtype)).view(vertices, batch, frames, self.out_channels)


class TemporalConv(nn.Module):
    """Convolution over time on channels-last input ``[..., T, C_in] -> [..., T, C_out]``.

    Replicate padding (the sequence ends continue their last value), the ``k`` shifted copies
    concatenated along channels and one matmul — one large GEMM instead of many small convs.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError("kernel_size must be odd")
        self.kernel_size = kernel_size
        self.linear = nn.Linear(kernel_size * in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames, pad = x.shape[-2], self.kernel_size // 2
        if pad == 0:
            return self.linear(x)
        first = x[..., :1, :].expand(*x.shape[:-2], pad, x.shape[-1])
        last = x[..., -1:, :].expand(*x.shape[:-2], pad, x.shape[-1])
        padded = torch.cat([first, x, last], dim=-2)
        taps = torch.cat([padded[..., k : k + frames, :] for k in range(self.kernel_size)], dim=-1)
        return self.linear(taps)


class ChannelsLastBatchNorm(nn.BatchNorm1d):
    """`BatchNorm1d` over the last dimension of ``[..., C]`` (statistics over everything else)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.reshape(-1, x.shape[-1])).view(x.shape)


def upsample_time_linear(x: torch.Tensor) -> torch.Tensor:
    """Linear ×2 upsampling over dim 2 (time) of ``[V, B, T, C]`` -> ``[V, B, 2T, C]``.

    Same values as ``F.interpolate(mode="linear", scale_factor=2, align_corners=False)``: output
    frames sit at ¼ and ¾ between input frames, and the ends are clamped.
    """
    before = torch.cat([x[:, :, :1], x[:, :, :-1]], dim=2)
    after = torch.cat([x[:, :, 1:], x[:, :, -1:]], dim=2)
    even = 0.75 * x + 0.25 * before
    odd = 0.75 * x + 0.25 * after
    vertices, batch, frames, channels = x.shape
    return torch.stack([even, odd], dim=3).view(vertices, batch, 2 * frames, channels)


class PartitionGraphConv(nn.Module):
    """ST-GCN spatial graph convolution (Yan et al., AAAI 2018, eq. 10), weights shared by vertices.

    ``y = Σ_k (W_k x) A_k`` with the ``[K, V, V]`` column-normalised partitions of
    `motiongen.nn.graph.Graph` (self, centripetal, centrifugal).
    """

    def __init__(self, in_channels: int, out_channels: int, partitions: np.ndarray):
        super().__init__()
        self.register_buffer("partitions", torch.as_tensor(partitions, dtype=torch.float32), persistent=False)
        self.out_channels = out_channels
        self.conv = nn.Conv2d(in_channels, out_channels * len(partitions), kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, frames, vertices = x.shape
        projected = self.conv(x).view(batch, -1, self.out_channels, frames, vertices)
        return torch.einsum("bkctv,kvw->bctw", projected, self.partitions.to(projected.dtype))
