"""Classical audio codecs through PyAV (FFmpeg): one base class for the Opus, AAC and MP3 baselines.

Encoding feeds the clip's float samples to FFmpeg's encoder (PyAV converts
the sample format and, where the codec needs another rate, resamples with
swresample) and muxes into the codec's usual container. Decoding demuxes,
sums the packets' payload bytes (the rate the curves use: no container
overhead), decodes, and resamples back to the clip's rate. FFmpeg's
decoders drop each codec's priming samples (Opus pre-skip, the AAC and MP3
encoder delay signalled in the file), so outputs line up with the source.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codec.eval.codecs.base import Codec
from codec.eval.media.audio import BaselineDecode

BLOCK = 8192


def pyav_version() -> str:
    import av

    return f"PyAV {av.__version__}, libavcodec {'.'.join(map(str, av.library_versions['libavcodec']))}"


def _layout(channels: int) -> str:
    import av

    return {1: "mono", 2: "stereo"}.get(channels) or av.AudioLayout({6: "5.1", 4: "quad", 3: "2.1", 5: "5.0",
                                                                     7: "6.1", 8: "7.1"}[channels]).name


class PyAvAudioCodec(Codec):
    """Subclasses set ``encoder``, ``muxer``, ``extension``, the rate points (kbit/s) and the options."""

    medium = "audio"
    rate_parameter = "kbit/s"
    encoder: str
    muxer: str
    options: dict[str, str] = {}

    def unavailable(self) -> str | None:
        try:
            import av
        except ImportError:
            return "PyAV is not installed (pip install av)"
        if self.encoder not in av.codec.codecs_available:
            return f"this PyAV/FFmpeg build has no {self.encoder} encoder"
        return None

    def version(self) -> str:
        return pyav_version()

    def settings(self) -> dict:
        return {"encoder": self.encoder, "container": self.muxer, "options": dict(self.options),
                "bitrate": "the rate point in kbit/s (all channels together), FFmpeg's bit_rate"}

    def encode_rate(self, sample_rate: int) -> int:
        """The sample rate the encoder runs at for a source at ``sample_rate``."""
        return sample_rate

    def metadata(self, sample_rate: int) -> dict[str, str]:
        """Tags the file needs for decoding to give back the source's form."""
        return {}

    def encode(self, item, rate_point: int, path: Path) -> None:
        import av

        samples, rate = item.samples, item.sample_rate
        layout = _layout(samples.shape[1])
        with av.open(str(path), "w", format=self.muxer) as out:
            out.metadata.update(self.metadata(rate))
            stream = out.add_stream(self.encoder, rate=self.encode_rate(rate), layout=layout,
                                    options=dict(self.options))
            stream.bit_rate = int(rate_point * 1000)
            for i in range(0, samples.shape[0], BLOCK):
                block = np.ascontiguousarray(samples[i:i + BLOCK].T, dtype=np.float32)
                frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
                frame.sample_rate, frame.pts = rate, i
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)

    def decode(self, path: Path) -> BaselineDecode:
        import av

        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            channels = stream.codec_context.layout.nb_channels
            payload, blocks = 0, []
            for packet in container.demux(stream):
                payload += packet.size
                for frame in packet.decode():
                    blocks.append(self._planar(frame, channels))
        return BaselineDecode(np.concatenate(blocks).astype(np.float32), payload)

    @staticmethod
    def _planar(frame, channels: int) -> np.ndarray:
        data = frame.to_ndarray()
        if not frame.format.is_planar:
            data = data.reshape(-1, channels).T
        kind = frame.format.name.rstrip("p")
        scale = {"s16": 32768.0, "s32": 2147483648.0}.get(kind)
        data = data.astype(np.float32) if scale is None else (data / scale).astype(np.float32)
        return data.T
