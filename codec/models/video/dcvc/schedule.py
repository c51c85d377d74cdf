"""Quality indexes per frame: the user's level, the hierarchy inside an intra period, and lambdas.

Torch-free: the family declaration, the encoder's rate control and training
share it. A level ``-q 1..LEVELS`` (continuous) maps linearly onto the base
quality index ``0..QPS-1``; every frame then adds the hierarchical offset of
its position since the last intra frame, so every fourth frame is coded
better and serves as a good reference for the three after it (the
low-delay hierarchy of DCVC-RT and of the HEVC/VVC low-delay configurations).
"""

from __future__ import annotations

QPS = 64
LEVELS = 8
#: offset of a P frame by (index since the intra frame) mod 4; intra frames use the base index
HIERARCHY = (0, -8, -4, -8)


def base_qp(level: float, qps: int = QPS, levels: int = LEVELS) -> int:
    """Quality index of a (continuous) level in 1..levels: 1 -> 0, levels -> qps-1."""
    return round((level - 1) * (qps - 1) / (levels - 1))


def level_of(qp: float, qps: int = QPS, levels: int = LEVELS) -> float:
    return 1 + qp * (levels - 1) / (qps - 1)


def frame_qp(base: float, index_since_intra: int, qps: int = QPS) -> float:
    """The quality index of a frame ``index_since_intra`` frames after the last intra frame (0: the intra)."""
    offset = 0 if index_since_intra == 0 else HIERARCHY[index_since_intra % len(HIERARCHY)]
    return min(max(base + offset, 0), qps - 1)
