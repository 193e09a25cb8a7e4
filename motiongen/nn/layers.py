"""Shared layers for skeleton graph networks (Kinetic-GAN, CSGN, the ST-GCN recogniser).

- `GraphConv`: ST-GCN's spatial graph convolution (Yan et al., AAAI 2018, eq. 10 with the learnable
  edge-importance mask M of §3.6): ``y = Σ_k W_k · x · (A_k ⊙ M_k)`` over the K spatial partitions
  of `motiongen.nn.graph`. A graph pyramid's unpooling (``fine = upsample @ coarse``, Kinetic-GAN)
  or node selection (critic coarsening) is fused into the same per-partition matrices.
- `NoiseInjection`: per-channel scaled noise (StyleGAN, Karras et al. 2019, §2), as Kinetic-GAN
  uses it: one noise value per (sample, frame, joint), a learned weight per channel starting at 0.
- `MappingNetwork`: the z → w MLP of StyleGAN/Kinetic-GAN with LeakyReLU.
- `repeat_frames`: nearest-neighbour temporal upsampling by a whole factor; `interpolate_frames`:
  linear upsampling (a smooth alternative: nearest repeats leave steps a generator must smooth out).

Every layer takes and returns ``[B, C, T, V]`` (ST-GCN order). Graph matrices are non-persistent
buffers: derived from the skeleton (which every checkpoint stores), moved by ``.to(device)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


# --- graph convolution ------------------------------------------------------------------------

class GraphConv(nn.Module):
    """``y[b,o,t,w] = Σ_k Σ_c Σ_v W_k[o,c] · x[b,c,t,v] · Â_k[v,w]`` with ``Â_k = U (A_k ⊙ M_k) S``.

    Args:
        in_channels, out_channels: C_in, C_out.
        partitions: ``[K, V, V]`` partition matrices of the graph the convolution runs on (column
            ``j`` gathers into vertex ``j``, `motiongen.nn.graph.Graph.partitions`).
        upsample: optional ``[V, V_in]`` pyramid matrix (``fine = upsample @ coarse``): the input lives
            on the coarser graph and is unpooled first (U = upsampleᵀ), fused into Â.
        select: optional ``[V_out]`` indices: only these vertices are output (S picks columns), as a
            critic coarsening by node selection does after its convolution.
        edge_importance: learn M (initialised to ones, one mask per partition); False keeps A fixed.
        bias: a bias per output channel (ST-GCN's graph convolution has none in Kinetic-GAN).

    Shapes: ``x [B, C_in, T, V_in] -> [B, C_out, T, V_out]``.

    The spatial product runs first, as one matmul over the last axis (no permute): ``x @ Â`` with
    the partitions interleaved in the columns (``w·K + k``); a convolution with kernel and stride
    ``(1, K)`` then contracts channels and partitions together. Both are single large batched ops.
    """

    def __init__(self, in_channels: int, out_channels: int, partitions: np.ndarray | torch.Tensor, *,
                 upsample: np.ndarray | torch.Tensor | None = None, select: np.ndarray | torch.Tensor | None = None,
                 edge_importance: bool = True, bias: bool = False):
        super().__init__()
        partitions = torch.as_tensor(np.asarray(partitions), dtype=torch.float32).clone()
        if partitions.ndim != 3 or partitions.shape[1] != partitions.shape[2]:
            raise ValueError(f"partitions must be [K, V, V], got {tuple(partitions.shape)}")
        self.partition_count, vertices = partitions.shape[0], partitions.shape[1]
        self.in_channels, self.out_channels = in_channels, out_channels
        self.register_buffer("partitions", partitions, persistent=False)
        if upsample is not None:
            unpool = torch.as_tensor(np.asarray(upsample), dtype=torch.float32).t().contiguous()  # [V_in, V]
            if unpool.shape[1] != vertices:
                raise ValueError(f"upsample must be [{vertices}, V_in], got {tuple(unpool.shape[::-1])}")
            self.register_buffer("unpool", unpool, persistent=False)
        else:
            self.unpool = None
        if select is not None:
            index = torch.as_tensor(np.asarray(select), dtype=torch.long).clone()
            self.register_buffer("select", index, persistent=False)
        else:
            self.select = None
        self.input_vertices = vertices if self.unpool is None else self.unpool.shape[0]
        self.output_vertices = vertices if self.select is None else len(self.select)
        self.edge_importance = nn.Parameter(torch.ones_like(partitions)) if edge_importance else None
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 1, self.partition_count))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        # PyTorch's default for a 1×1 conv with C_in inputs (what ST-GCN's `conv` to K·C_out is).
        bound = 1.0 / math.sqrt(in_channels)
        nn.init.uniform_(self.weight, -bound, bound)

    def spatial_matrix(self) -> torch.Tensor:
        """``[V_in, V_out·K]``: Â_k = U (A_k ⊙ M_k) S with partitions interleaved in the columns."""
        matrices = self.partitions if self.edge_importance is None else self.partitions * self.edge_importance
        if self.unpool is not None:
            matrices = torch.matmul(self.unpool, matrices)  # [K, V_in, V]
        if self.select is not None:
            matrices = matrices.index_select(2, self.select)  # [K, V_in, V_out]
        return matrices.permute(1, 2, 0).reshape(self.input_vertices, self.output_vertices * self.partition_count)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = torch.matmul(x, self.spatial_matrix())  # [B, C_in, T, V_out·K]
        return F.conv2d(mixed, self.weight, self.bias, stride=(1, self.partition_count))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, partitions={self.partition_count}, "
                f"vertices={self.input_vertices}->{self.output_vertices}, "
                f"edge_importance={self.edge_importance is not None}")


# --- noise, mapping, temporal resize ------------------------------------------------------------

class NoiseInjection(nn.Module):
    """``x + weight[c] · noise[b, t, v]``: ``x [B, C, T, V]``, ``noise [B, 1, T, V]``; weight starts at 0."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(x, self.weight, noise)


class MappingNetwork(nn.Sequential):
    """``depth`` × (Linear → LeakyReLU): ``[B, in_features] -> [B, out_features]``.

    Weights start variance-preserving for the LeakyReLU (He init) and biases at 0, so w keeps the
    scale of its input through any depth.
    """

    def __init__(self, in_features: int, out_features: int, depth: int, negative_slope: float = 0.2):
        layers: list[nn.Module] = []
        for index in range(depth):
            linear = nn.Linear(in_features if index == 0 else out_features, out_features)
            nn.init.kaiming_normal_(linear.weight, a=negative_slope, nonlinearity="leaky_relu")
            nn.init.zeros_(linear.bias)
            layers += [linear, nn.LeakyReLU(negative_slope)]
        super().__init__(*layers)


def repeat_frames(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Nearest-neighbour upsampling in time by a whole ``factor``: ``[B, C, T, V] -> [B, C, T·factor, V]``
    (what ``F.interpolate(mode="nearest")`` gives for a whole factor)."""
    if factor == 1:
        return x
    batch, channels, frames, vertices = x.shape
    return x.unsqueeze(3).expand(batch, channels, frames, factor, vertices).reshape(
        batch, channels, frames * factor, vertices)


def interpolate_frames(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Linear upsampling in time by a whole ``factor`` (half-pixel centres, edges held):
    ``[B, C, T, V] -> [B, C, T·factor, V]``; one frame stays constant, as with `repeat_frames`."""
    if factor == 1:
        return x
    return F.interpolate(x, size=(x.shape[2] * factor, x.shape[3]), mode="bilinear", align_corners=False)


def add_repeated(x: torch.Tensor, short: torch.Tensor, factor: int) -> torch.Tensor:
    """``x + repeat_frames(short, factor)`` without materialising the repeat (a broadcast add)."""
    if factor == 1:
        return x + short
    batch, channels, frames, vertices = x.shape
    return (x.view(batch, channels, frames // factor, factor, vertices) + short.unsqueeze(3)).view(
        batch, channels, frames, vertices)
