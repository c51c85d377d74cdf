"""Streaming coding of audio with a loaded RVQ model: fixed packets, exact symbols, bounded memory.

Timing (bitstream/models/rvq.md): packet ``k`` codes the source samples
``[k*P, (k+1)*P)`` (``P`` = frames per packet x hop, at the source rate).
The encoder reads a few samples past a packet (the resampler's lookahead)
before coding it, and always cuts the same window around it, so a packet's
bytes never depend on how the input was chunked. The decoder runs a fixed
``OUTPUT_DELAY`` (80 ms) behind: after packet ``k`` it hands out the
samples ``[k*P - D, (k+1)*P - D)``; the encoder therefore codes packets
until they cover the last sample plus ``D``. A packet's duration is the
number of real source samples it holds, so the last packets are shorter
(or 0) and the decoder stops at the sum of the durations.

Each packet decodes without earlier packets (its symbols' contexts restart);
its first 80 ms after a seek are decoded from a cold network state.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from codec.entropy import decode as rans_decode
from codec.entropy import encode as rans_encode
from codec.errors import CorruptStreamError
from codec.models.audio.rvq import channels as chan
from codec.models.audio.rvq.model_file import LoadedModel
from codec.models.audio.rvq.network import analysis_frames
from codec.models.audio.rvq.resample import input_span, ratio, resample_groups

OUTPUT_DELAY = Fraction(2, 25)     # seconds the decoder's output trails its packets
PACKET_OVERHEAD_BYTES = 20         # container bytes of a data packet besides its segments (estimate for rate control)
LANES = 1
SILENT_RATIO = 1e-9                # a transformed channel 90 dB below the packet's total is not coded
STAGE_DB = 1.5                     # distortion model of the channel allocation: dB removed per codebook


@dataclass(frozen=True)
class Geometry:
    """Sizes of a stream at its source rate and at the model's rate; refuses rates it cannot map exactly."""

    rate: int
    channels: int
    frames: int       # latent frames per packet
    hop: int
    internal: int     # the model's sample rate
    analysis_lag: int  # history an analysis frame reads before its hop
    decoder_lag: int   # how far the decoder's output trails the frames it comes from

    @property
    def packet(self) -> int:
        """Internal samples per packet."""
        return self.frames * self.hop

    @property
    def packet_source(self) -> int:
        return self.packet * self.rate // self.internal

    @property
    def delay_source(self) -> int:
        return int(OUTPUT_DELAY * self.rate)

    @property
    def delay(self) -> int:
        return int(OUTPUT_DELAY * self.internal)

    def check(self) -> None:
        """ValueError naming what does not divide, when this rate and packet size cannot be coded exactly."""
        enc, dec = ratio(self.rate, self.internal), ratio(self.internal, self.rate)
        if (self.packet * self.rate) % self.internal or self.packet % enc.up or self.packet_source % dec.up \
                or (OUTPUT_DELAY * self.rate).denominator != 1 or self.delay_source % dec.up:
            raise ValueError(f"a sample rate of {self.rate} Hz with {self.frames} frames per packet does not map "
                             f"exactly onto the model's {self.internal} Hz (rates that are multiples of 25 Hz with "
                             f"packets of a multiple of 3 frames always do)")
        if self.delay <= self.decoder_lag:
            raise ValueError("output delay shorter than the decoder's lag")


class StreamEncoder:
    """Source blocks (n, channels) float32 in, packets (segments, pts, duration) out."""

    def __init__(self, model: LoadedModel, geo: Geometry, target_bps: float, threads: int = 1) -> None:
        geo.check()
        self.model, self.geo, self.threads = model, geo, threads
        self.net, self.prior = model.network, model.prior
        c = geo.channels
        self.buf = np.zeros((c, 0), dtype=np.float32)
        self.buf_start = 0
        self.received = 0
        self.k = 0
        self.enc_state = None
        self.history = torch.zeros(c, geo.analysis_lag)
        self.packet_budget = target_bps * geo.packet_source / geo.rate
        self.reservoir = 0.0
        self.symbols = 0

    # -- input -------------------------------------------------------------------------------
    def _span(self, k: int) -> tuple[int, int]:
        return input_span(self.geo.rate, self.geo.internal, k * self.geo.packet, self.geo.packet)

    def push(self, block: np.ndarray) -> list[tuple[tuple[bytes, ...], int, int]]:
        self.buf = np.concatenate([self.buf, np.ascontiguousarray(block, dtype=np.float32).T], axis=1)
        self.received += block.shape[0]
        out = []
        while self.received >= self._span(self.k)[1]:
            out.append(self._code(None))
        return out

    def finish(self) -> list[tuple[tuple[bytes, ...], int, int]]:
        out = []
        total = self.received
        while self.k * self.geo.packet_source - self.geo.delay_source < total:
            out.append(self._code(total))
        return out

    def _window(self, a: int, b: int) -> np.ndarray:
        """Source samples [a, b) of every channel; zeros before the start and past what was received."""
        out = np.zeros((self.geo.channels, b - a), dtype=np.float32)
        lo, hi = max(a, self.buf_start), min(b, self.buf_start + self.buf.shape[1])
        if hi > lo:
            out[:, lo - a: hi - a] = self.buf[:, lo - self.buf_start: hi - self.buf_start]
        return out

    # -- one packet ------------------------------------------------------------------------------
    @torch.no_grad()
    def _code(self, total: int | None) -> tuple[tuple[bytes, ...], int, int]:
        geo, k = self.geo, self.k
        a, b = self._span(k)
        window = torch.from_numpy(self._window(a, b))
        x = resample_groups(window, geo.rate, geo.internal, a, k * geo.packet, geo.packet)
        if geo.channels > 1:
            x = torch.from_numpy(chan.forward(x.numpy()))
        frames = analysis_frames(x, self.net.cfg, self.history)
        self.history = torch.cat([self.history, x], dim=1)[:, -geo.analysis_lag:]
        latent, self.enc_state = self.net.encoder(self.net.analysis(frames), self.enc_state)
        codes = self.net.quantizer.encode(latent, self.net.cfg.codebooks).numpy()      # (C, L, F)
        energy = x.double().square().sum(dim=1).numpy()
        silent = energy <= SILENT_RATIO * energy.sum()
        n = self._allocate(codes, energy, silent)
        segments = self._pack(n, codes)
        used = 8 * (sum(len(s) for s in segments) + PACKET_OVERHEAD_BYTES)
        budget = self.packet_budget + self.reservoir
        self.reservoir = float(np.clip(budget - used, -self.packet_budget, self.packet_budget))
        duration = geo.packet_source if total is None else int(np.clip(total - k * geo.packet_source, 0,
                                                                        geo.packet_source))
        self.k += 1
        keep = self._span(self.k)[0]
        if keep > self.buf_start:
            drop = min(keep - self.buf_start, self.buf.shape[1])
            self.buf = self.buf[:, drop:]
            self.buf_start += drop
        return tuple(segments), k * geo.packet_source, duration

    def _allocate(self, codes: np.ndarray, energy: np.ndarray, silent: np.ndarray) -> list[int]:
        """Codebooks per transformed channel: as many as the packet's bit budget allows.

        One coded channel takes them all. Several share them greedily by a
        model of their distortion: channel ``c`` with ``n`` codebooks leaves
        ``sqrt(E_c) * 10^(-STAGE_DB * n / 10)``, ``E_c`` its energy in the
        packet (the square root: what is heard is closer to the log of the
        energy than to the energy), so each next codebook goes to the channel
        whose distortion falls most per bit. A side channel 15 dB below the
        mid gets its first codebook once the mid has about five. (The relative
        latent residual was tried as the distortion instead and misled: a
        quiet channel's small latent shrinks fast in relative terms, and the
        side took most of the bits.)
        """
        c_count = codes.shape[0]
        budget = self.packet_budget + self.reservoir - 8 * (PACKET_OVERHEAD_BYTES + 2 + 14 + c_count)
        bits = np.stack([self.prior.level_bits(codes[c]) for c in range(c_count)])      # (C, L)
        reach = [0 if silent[c] else int(np.searchsorted(np.cumsum(bits[c]), budget, side="right"))
                 for c in range(c_count)]
        active = [c for c in range(c_count) if reach[c] > 0]
        n = [0] * c_count
        if len(active) == 1:
            n[active[0]] = reach[active[0]]
        if len(active) <= 1:
            return n
        step = 10 ** (-STAGE_DB / 10)
        weight = np.sqrt(energy)
        spent = 0.0
        while True:
            best, best_gain = None, -np.inf
            for c in active:
                if n[c] < reach[c] and spent + bits[c, n[c]] <= budget:
                    gain = weight[c] * step ** n[c] * (1 - step) / bits[c, n[c]]
                    if gain > best_gain:
                        best, best_gain = c, gain
            if best is None:
                return n
            spent += bits[best, n[best]]
            n[best] += 1

    def _pack(self, n: list[int], codes: np.ndarray) -> list[bytes]:
        head = bytes(n)
        symbols = [codes[c, :n[c]] for c in range(len(n)) if n[c]]
        if not symbols:
            return [head, b""]
        indexes = [self.prior.indexes(n[c], codes.shape[2]) for c in range(len(n)) if n[c]]
        sym = np.concatenate([s.ravel() for s in symbols]).astype(np.int32)
        idx = np.concatenate([i.ravel() for i in indexes]).astype(np.int32)
        self.symbols += sym.size
        return [head, rans_encode(sym, idx, self.prior.tables, lanes=LANES, threads=self.threads)]


def unpack(model: LoadedModel, geo: Geometry, segments: tuple[bytes, ...], threads: int = 1) -> tuple[list[int], np.ndarray]:
    """Codebook counts and codes (C, L, F), zero beyond each count, of one packet: the exact part of decoding."""
    if len(segments) != 2:
        raise CorruptStreamError(f"expected 2 segments, found {len(segments)}")
    head, body = segments
    levels, size = model.config.codebooks, model.config.codebook_size
    if len(head) != geo.channels:
        raise CorruptStreamError(f"codebook counts for {len(head)} channels in a {geo.channels}-channel file")
    n = list(head)
    if max(n) > levels:
        raise CorruptStreamError(f"{max(n)} codebooks in a packet; the model has {levels}")
    codes = np.zeros((geo.channels, levels, geo.frames), dtype=np.int64)
    if sum(n) == 0:
        if body:
            raise CorruptStreamError("symbols in a packet that codes no codebook")
        return n, codes
    prior = model.prior
    idx = np.concatenate([prior.indexes(n[c], geo.frames).ravel() for c in range(geo.channels) if n[c]])
    sym = rans_decode(body, idx, prior.tables, threads=threads)
    if sym.min() < 0 or sym.max() >= size:
        raise CorruptStreamError("a decoded index lies outside the codebook")
    pos = 0
    for c in range(geo.channels):
        count = n[c] * geo.frames
        codes[c, :n[c]] = sym[pos:pos + count].reshape(n[c], geo.frames)
        pos += count
    return n, codes


def fingerprint_update(h: "hashlib._Hash", n: list[int], codes: np.ndarray) -> None:
    h.update(bytes(n))
    h.update(codes.astype("<i4").tobytes())


class StreamDecoder:
    """Packets in, blocks (n, channels) float32 out, in order; see the module docstring for timing."""

    def __init__(self, model: LoadedModel, geo: Geometry, threads: int = 1) -> None:
        geo.check()
        self.model, self.geo, self.threads = model, geo, threads
        self.net = model.network
        self.reset(emit_from=0)

    def reset(self, emit_from: int | None = None) -> None:
        self.state = None
        self.internal = None           # decoded model-rate samples (C, n) and the index of the first
        self.internal_start = 0
        self.next_k = None
        self.emit_from = emit_from     # None: from the first packet's own start (after a seek)
        self.end = None

    @torch.no_grad()
    def decode(self, segments: tuple[bytes, ...], pts: int, duration: int, where: dict) -> np.ndarray | None:
        geo = self.geo
        if pts < 0 or pts % geo.packet_source or not 0 <= duration <= geo.packet_source:
            raise CorruptStreamError(f"packet timing pts={pts}, duration={duration} does not fit packets of "
                                     f"{geo.packet_source} samples", **where)
        k = pts // geo.packet_source
        if self.next_k is not None and k != self.next_k:
            self.reset(emit_from=None)
        if self.emit_from is None:
            self.emit_from = k * geo.packet_source
        if self.end is not None and k * geo.packet_source - geo.delay_source >= self.end:
            raise CorruptStreamError("a packet after the end of the signal", **where)
        try:
            n, codes = unpack(self.model, geo, segments, self.threads)
        except CorruptStreamError as exc:
            raise CorruptStreamError(f"entropy-coded data is invalid: {_bare(exc)}", **where) from None
        self.next_k = k + 1
        if duration < geo.packet_source and self.end is None:
            self.end = k * geo.packet_source + duration
        latent = torch.stack([self.net.quantizer.decode(torch.from_numpy(codes[c:c + 1, :n[c]]))[0]
                              for c in range(geo.channels)])
        y, self.state = self.net.decode(latent, self.state)              # model samples [kP - lag, (k+1)P - lag)
        y = y * torch.tensor([float(m > 0) for m in n])[:, None]
        y = torch.from_numpy(chan.inverse(y.numpy())) if geo.channels > 1 else y
        start = k * geo.packet - geo.decoder_lag
        if self.internal is None or self.internal_start + self.internal.shape[1] != start:
            # cold start (stream start or after a seek): what precedes is silence
            self.internal = torch.zeros(geo.channels, 2 * geo.delay)
            self.internal_start = start - self.internal.shape[1]
        self.internal = torch.cat([self.internal, y], dim=1)
        return self._emit(k)

    def _emit(self, k: int) -> np.ndarray | None:
        geo = self.geo
        lo, count = k * geo.packet_source - geo.delay_source, geo.packet_source
        out = resample_groups(self.internal, geo.internal, geo.rate, self.internal_start, lo, count)
        keep_from = input_span(geo.internal, geo.rate, lo + count, count)[0]
        drop = keep_from - self.internal_start
        if drop > 0:
            self.internal = self.internal[:, drop:]
            self.internal_start = keep_from
        start = max(lo, self.emit_from)
        stop = lo + count if self.end is None else min(lo + count, self.end)
        if stop <= start:
            return None
        return np.ascontiguousarray(out[:, start - lo: stop - lo].numpy().T)


def _bare(exc: Exception) -> str:
    text = str(exc)
    return text[: text.rfind(" (at ")] if text.endswith(")") and " (at " in text else text
