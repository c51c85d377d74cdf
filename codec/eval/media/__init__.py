"""Media the evaluator knows: how items are found, loaded, measured and rated.

A medium is the part of an evaluation that depends on what is coded. Images
are here; video (frames, PSNR-YUV) and audio (samples, SI-SDR) add one module
each with the same four functions and one entry in ``MEDIA``.
"""

from __future__ import annotations

from codec.eval.media import image
from codec.eval.media.base import Medium

MEDIA: dict[str, Medium] = {"image": image.IMAGE}

__all__ = ["MEDIA", "Medium"]
