"""Streamable building blocks: every layer that looks back in time keeps its own cache.

A forward call takes ``state``: ``None`` for a one-shot offline pass (the past is zeros), or a dict
that the layers read their caches from and write them back to. Offline and streaming are the same
code: a stream is the offline pass cut into chunks, carrying the caches between chunks. Chunks must
hold a whole number of output frames (the product of the time pools).
"""

from __future__ import annotations

import torch
from torch import nn


class Streamable(nn.Module):
    """A module with a time cache; ``key`` is set by the network to its qualified name."""

    key: str = ""

    def _cached_past(self, x: torch.Tensor, past: int, state: dict | None) -> torch.Tensor:
        """x [B, C, T, ...] with ``past`` earlier frames prepended (zeros at the start of a stream)."""
        if past == 0:
            return x
        prev = None if state is None else state.get(self.key)
        if prev is None:
            prev = x.new_zeros((x.shape[0], x.shape[1], past, *x.shape[3:]))
        xx = torch.cat([prev, x], dim=2)
        if state is not None:
            state[self.key] = xx[:, :, -past:]
        return xx


class CausalConv2d(Streamable):
    """Conv over (time, frequency), causal in time ("same" padding in frequency)."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int] = (3, 3), bias: bool = False):
        super().__init__()
        self.past = kernel[0] - 1
        self.conv = nn.Conv2d(cin, cout, kernel, padding=(0, kernel[1] // 2), bias=bias)

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        return self.conv(self._cached_past(x, self.past, state))


class CausalConv1d(Streamable):
    """Dilated conv over time, causal."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, dilation: int = 1):
        super().__init__()
        self.past = (kernel - 1) * dilation
        self.conv = nn.Conv1d(cin, cout, kernel, dilation=dilation)

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        return self.conv(self._cached_past(x, self.past, state))


class ConvBlock(nn.Module):
    """Two causal 3x3 convs with batch norm and ReLU, then average pooling (time, frequency).

    Pooling is aligned to chunk starts, so it needs no cache when chunks hold whole pooled frames.
    """

    def __init__(self, cin: int, cout: int, pool: tuple[int, int], dropout: float):
        super().__init__()
        self.conv1 = CausalConv2d(cin, cout)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = CausalConv2d(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pool = nn.AvgPool2d(pool) if pool != (1, 1) else nn.Identity()
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x, state)))
        x = torch.relu(self.bn2(self.conv2(x, state)))
        return self.drop(self.pool(x))


class TemporalBlock(nn.Module):
    """Residual block of two dilated causal convs over 100 ms frames (a TCN layer)."""

    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float):
        super().__init__()
        self.conv1 = CausalConv1d(channels, channels, kernel, dilation)
        self.norm1 = nn.BatchNorm1d(channels)
        self.conv2 = CausalConv1d(channels, channels, kernel, dilation)
        self.norm2 = nn.BatchNorm1d(channels)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        y = self.drop(torch.relu(self.norm1(self.conv1(x, state))))
        y = self.norm2(self.conv2(y, state))
        return torch.relu(x + self.drop(y))


class CrossStitch(nn.Module):
    """Soft parameter sharing between two branches (EINV2): per-channel learned 2x2 mixing."""

    def __init__(self, channels: int, keep: float = 0.9):
        super().__init__()
        init = torch.tensor([[keep, 1 - keep], [1 - keep, keep]])
        self.weight = nn.Parameter(init.repeat(channels, 1, 1))  # [C, 2, 2]

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (1, -1) + (1,) * (a.dim() - 2)
        w = self.weight
        a2 = w[:, 0, 0].view(shape) * a + w[:, 0, 1].view(shape) * b
        b2 = w[:, 1, 0].view(shape) * a + w[:, 1, 1].view(shape) * b
        return a2, b2
