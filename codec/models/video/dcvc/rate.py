"""A one-pass, per-frame rate controller for a target bitrate (``-b 500k``).

Each frame is coded once. The controller models an inter frame's bits as
``log2(bits) = c + s * qp`` and fits ``c`` and ``s`` by least squares over
the last ``WINDOW`` inter frames (the hierarchy's offsets vary ``qp`` within
every four frames, which is what makes the slope measurable), so the model
follows the content and the weights. It keeps a virtual buffer of the bits
spent beyond the target and asks each frame for the target times
``2^(-buffer / one second of bits)``: an intra frame's surplus is paid back
over the next second. The base quality index is the one whose predicted
cost, averaged over the four positions of the hierarchy
(``schedule.HIERARCHY``), meets that; each frame then gets its position's
offset, as with a fixed quality.
"""

from __future__ import annotations

import math
from collections import deque

from codec.models.video.dcvc.schedule import HIERARCHY, QPS, frame_qp

START_BPP = 0.1         # first guess: an inter frame at START_QP costs this many bits per pixel
START_QP = 24
START_SLOPE = 1 / 30    # first guess of s: bits double every 30 quality indexes
SLOPES = (1 / 80, 1 / 4)  # the fitted slope is kept in this range
WINDOW = 16
MAX_CORRECTION = 4.0    # the buffer changes a frame's budget by at most this factor (up or down)


class RateController:
    def __init__(self, bitrate: float, fps: float, width: int, height: int) -> None:
        self.frame_bits = bitrate / fps
        self.fps = fps
        self.slope = START_SLOPE
        self.c = math.log2(START_BPP * width * height) - START_QP * self.slope
        self.seen: deque[tuple[int, float]] = deque(maxlen=WINDOW)
        self.buffer = 0.0
        self.spent = 0
        self.base = self._base()
        self._last: tuple[int, int] | None = None

    def _base(self) -> float:
        factor = 2 ** (-self.buffer / (self.frame_bits * self.fps))
        want = self.frame_bits * min(max(factor, 1 / MAX_CORRECTION), MAX_CORRECTION)
        cycle = sum(2 ** (o * self.slope) for o in HIERARCHY) / len(HIERARCHY)
        base = (math.log2(want / cycle) - self.c) / self.slope
        return min(max(base, 0.0), QPS - 1.0)

    def next_qp(self, index_since_intra: int) -> int:
        self.base = self._base()
        qp = round(frame_qp(self.base, index_since_intra))
        self._last = (qp, index_since_intra)
        return qp

    def update(self, bits: int) -> None:
        self.spent += bits
        self.buffer += bits - self.frame_bits
        if self._last is None or self._last[1] == 0:  # intra frames cost more: they do not teach the model
            return
        self.seen.append((self._last[0], math.log2(max(bits, 1))))
        qps = [q for q, _ in self.seen]
        logs = [b for _, b in self.seen]
        mq, mb = sum(qps) / len(qps), sum(logs) / len(logs)
        var = sum((q - mq) ** 2 for q in qps)
        if var >= 8:
            fitted = sum((q - mq) * (b - mb) for q, b in self.seen) / var
            self.slope = min(max(fitted, SLOPES[0]), SLOPES[1])
        self.c = mb - self.slope * mq
