"""Graph layers with a learned adjacency, as HG-VAE (Bourached et al., 2022) builds them from Mao et
al.'s "Learning trajectory dependencies" GCN, and the DCT they encode trajectories with.

- `dct_matrix(n)`: the orthonormal DCT-II, ``coefficients = trajectory @ Dᵀ`` and back with ``D``.
- `GraphConvLayer` (GCL): ``σ(S A W + b)`` on node features ``A [B, N_in, F_in]``, with a learned
  ``S [N_out, N_in]``. A rectangular S changes the number of nodes, which is how the hierarchy goes
  from one node per joint coordinate down to one global node and back.
- `GraphConvBlock` (GCB): ``A + α · σ(S₂ σ(S₁ A W₁ + b₁) W₂ + b₂)`` with α initialised to 0
  (ReZero, Bachlechner et al. 2020: every block starts as the identity). DESIGN §6.4 writes the
  residual as ``… + αA``; taken literally that would start the block with its skip path switched
  off, the opposite of ReZero, so α scales the branch here.

All take and return ``[B, N, F]``; each layer is two batched matmuls.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def dct_matrix(n: int, dtype=torch.float32) -> torch.Tensor:
    """``[n, n]`` orthonormal DCT-II: row k is basis k, so ``D @ Dᵀ = I``."""
    t = torch.arange(n, dtype=torch.float64)
    k = t[:, None]
    basis = torch.cos(math.pi * (2 * t[None, :] + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    basis[0] /= math.sqrt(2.0)
    return basis.to(dtype)


def _adjacency_init(nodes_out: int, nodes_in: int) -> torch.Tensor:
    """Start S as averaging contiguous groups of input nodes (identity when square), plus a little
    noise so nodes are not tied: the hierarchy begins as plain pooling and learns from there."""
    groups = torch.div(torch.arange(nodes_in) * nodes_out, nodes_in, rounding_mode="floor")
    if nodes_out > nodes_in:  # unpooling: every output node copies its source node
        groups = torch.div(torch.arange(nodes_out) * nodes_in, nodes_out, rounding_mode="floor")
        base = F.one_hot(groups, nodes_in).float()
    else:
        base = F.one_hot(groups, nodes_out).float().T
        base = base / base.sum(1, keepdim=True)
    return base + torch.empty(nodes_out, nodes_in).uniform_(-1.0, 1.0) / (4.0 * math.sqrt(nodes_in))


class GraphConvLayer(nn.Module):
    """``act(S A W + b)``: ``A [B, N_in, F_in] → [B, N_out, F_out]``; ``activation=False`` for
    output heads (means and scales)."""

    def __init__(self, nodes_in: int, nodes_out: int, features_in: int, features_out: int, activation: bool = True):
        super().__init__()
        self.adjacency = nn.Parameter(_adjacency_init(nodes_out, nodes_in))
        self.weight = nn.Parameter(torch.empty(features_in, features_out))
        nn.init.xavier_uniform_(self.weight)
        self.bias = nn.Parameter(torch.zeros(nodes_out, features_out))
        self.activation = activation

    def forward(self, nodes: torch.Tensor) -> torch.Tensor:
        out = torch.matmul(self.adjacency, nodes @ self.weight) + self.bias
        return F.gelu(out) if self.activation else out


class GraphConvBlock(nn.Module):
    """Two GCLs on the same graph with a ReZero residual (see the module docstring)."""

    def __init__(self, nodes: int, features: int):
        super().__init__()
        self.first = GraphConvLayer(nodes, nodes, features, features)
        self.second = GraphConvLayer(nodes, nodes, features, features)
        self.alpha = nn.Parameter(torch.zeros(()))

    def forward(self, nodes: torch.Tensor) -> torch.Tensor:
        return nodes + self.alpha * self.second(self.first(nodes))
