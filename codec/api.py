"""The Python API: images to ``.nmc`` bytes and back, in one call each.

>>> import codec
>>> data = codec.encode_image("photo.png", quality=4)
>>> pixels = codec.decode_image(data)               # numpy HxWx3 uint8
"""

from __future__ import annotations

from typing import Any

from codec import __version__
from codec.container import FileHeader, MediaType, SourceInfo, build_container, parse_container
from codec.errors import BadInputError, CorruptStreamError, UsageError
from codec.io.image_input import load_image, restore_components, to_output
from codec.models.image.coder import decode_params, encode_params
from codec.zoo import DEFAULT_IMAGE_MODEL, coder_for, load_image_model

QUALITY_LEVELS = 8  # -q 1..8


def encode_image(image: Any, *, quality: int | None = None, bpp: float | None = None,
                 model: str = DEFAULT_IMAGE_MODEL, threads: int = 1) -> bytes:
    """Encode a path, numpy array, PIL image or tensor to the bytes of an ``.nmc`` file.

    Give ``quality`` (1 = smallest .. 8 = best) or a target ``bpp`` (bits
    per pixel of the whole file; the largest setting that fits is chosen).
    Default: quality 4.
    """
    if quality is not None and bpp is not None:
        raise UsageError("give a quality or a target bpp, not both")
    coder = load_image_model(model)
    src = load_image(image)
    h, w = src.pixels.shape[:2]
    y = coder.analyse(src.pixels)

    def file_for(level: float) -> bytes:
        header = FileHeader(MediaType.IMAGE, model, coder.model.digest,
                            SourceInfo.srgb_image(w, h, components=src.components),
                            codec_params=encode_params(level),
                            quality=None if quality is None and bpp is not None else round(level) + 1,
                            encoder=f"codec {__version__}")
        return build_container(header, [tuple(coder.compress_latent(y, level, threads=threads))])

    if bpp is None:
        q = 4 if quality is None else quality
        if not 1 <= q <= coder.levels:
            raise UsageError(f"quality must be 1..{coder.levels}, got {q}")
        return file_for(float(q - 1))
    if not bpp > 0:
        raise UsageError(f"target bpp must be positive, got {bpp}")
    return _fit_rate(file_for, bpp * w * h / 8, coder.levels)


def _fit_rate(file_for, budget_bytes: float, levels: int) -> bytes:
    """The largest level (in 1/256 steps) whose file fits the budget; the smallest level if none does."""
    lo, hi = 0, (levels - 1) * 256
    best = file_for(0.0)
    if len(best) > budget_bytes:
        return best
    while lo < hi:
        mid = (lo + hi + 1) // 2
        data = file_for(mid / 256)
        if len(data) <= budget_bytes:
            lo, best = mid, data
        else:
            hi = mid - 1
    return best


def decode_image(data: bytes, *, output: str = "numpy", threads: int = 1) -> Any:
    """Decode ``.nmc`` bytes to 'numpy' (HxW[xC] uint8), 'pil' or 'torch' (CxHxW uint8)."""
    f = parse_container(data)
    h = f.header
    if h.media_type is not MediaType.IMAGE:
        raise BadInputError(f"file holds {h.media_type.name.lower()}, not an image")
    if len(f.packets) != 1:
        raise CorruptStreamError(f"an image file holds one data packet, found {len(f.packets)}")
    coder = coder_for(h.model_id, h.model_digest)
    level = decode_params(h.codec_params, coder.levels)
    packet = f.packets[0]
    try:
        rgb = coder.decompress(packet.segments, h.source.height, h.source.width, level, threads=threads)
    except (CorruptStreamError, ValueError) as exc:
        raise CorruptStreamError(f"entropy-coded data is invalid: {exc}", packet=0, offset=packet.offset) from None
    return to_output(restore_components(rgb, h.source.components), output)


def round_trip(image: Any, **options: Any) -> tuple[bytes, Any]:
    """Encode then decode: the file's bytes and the decoded pixels (numpy)."""
    data = encode_image(image, **options)
    return data, decode_image(data)
