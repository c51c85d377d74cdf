"""Still images: read with Pillow into 8-bit RGB, written back in the source's layout; rate in bits per pixel."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from codec.container.header import FILE_EXTENSION
from codec.container.source import MediaType, SourceInfo
from codec.errors import BadInputError, UsageError
from codec.io.atomic import output_file
from codec.io.image_input import (
    DEFAULT_MAX_PIXELS, check_max_pixels, check_output_kind, load_image, restore_components, to_output,
)
from codec.io.image_output import FORMATS, LOSSLESS, write_image
from codec.media.base import MediaSink, MediaSource, Medium
from codec.models.base import Option


@functools.lru_cache(maxsize=1)
def image_extensions() -> frozenset[str]:
    """Extensions (with the dot) of every image format Pillow reads here."""
    from PIL import Image

    Image.init()
    readable = {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}
    return frozenset(readable - {FILE_EXTENSION.lower()})


def _pixels(text: str) -> int:
    try:
        value = int(float(text)) if "e" in text.lower() else int(text)
    except ValueError:
        raise UsageError(f"--max-pixels takes a number of pixels, got {text!r}") from None
    return check_max_pixels(value)


class ImageSource(MediaSource):
    length = 1

    def __init__(self, source: Any, options: Mapping[str, Any]) -> None:
        image = load_image(source, max_pixels=options.get("max_pixels") or DEFAULT_MAX_PIXELS)
        h, w = image.pixels.shape[:2]
        self.pixels = image.pixels
        self.notes = image.notes
        self.info = SourceInfo.srgb_image(w, h, components=image.components)

    def __iter__(self) -> Iterator[np.ndarray]:
        yield self.pixels


class ImageSink(MediaSink):
    """Writes the one decoded image when closed, so a file found damaged after its packet leaves no output."""

    def __init__(self, target: str | Path | BinaryIO, fmt: str, info: SourceInfo, overwrite: bool) -> None:
        self.target, self.fmt, self.info, self.overwrite = target, fmt, info, overwrite
        self._pixels: np.ndarray | None = None

    def write(self, item: np.ndarray) -> None:
        if self._pixels is not None:
            raise UsageError("an image file holds one image")
        self._pixels = restore_components(item, self.info.components)

    def close(self) -> None:
        if self._pixels is None:
            raise BadInputError("the file held no image")
        pixels, self._pixels = self._pixels, None
        if hasattr(self.target, "write"):
            write_image(pixels, self.fmt, self.target)
        else:
            with output_file(self.target, overwrite=self.overwrite) as f:
                write_image(pixels, self.fmt, f)

    def abort(self) -> None:
        self._pixels = None


class ImageMedium(Medium):
    name = "image"
    media_type = MediaType.IMAGE
    rate_unit = "bpp"
    item_name = "image"
    output_kinds = ("numpy", "pil", "torch")
    encode_options = (
        Option(("--max-pixels",), "max_pixels", f"largest image accepted, in pixels (default "
               f"{DEFAULT_MAX_PIXELS:,}); checked before decoding the image", type=_pixels, metavar="N"),
    )

    def source_extensions(self) -> frozenset[str]:
        return image_extensions()

    def output_formats(self) -> tuple[str, ...]:
        return tuple(FORMATS)

    def lossless_formats(self) -> tuple[str, ...]:
        return LOSSLESS

    def open_source(self, source: Any, options: Mapping[str, Any]) -> MediaSource:
        return ImageSource(source, options)

    def source_info(self, *, width: int, height: int, components: int = 3, **unused: Any) -> SourceInfo:
        if unused:
            raise UsageError(f"images take width, height and components, not {', '.join(unused)}")
        return SourceInfo.srgb_image(width, height, components=components)

    def open_sink(self, target, fmt: str, info: SourceInfo, options: Mapping[str, Any]) -> MediaSink:
        return ImageSink(target, fmt, info, bool(options.get("overwrite")))

    def rate(self, file_bytes: int, info: SourceInfo, *, frames: int | None = None,
             duration_seconds: float | None = None) -> dict[str, float]:
        return {"bits_per_pixel": 8 * file_bytes / (info.width * info.height)}

    def verify_file(self, path: Path) -> None:
        from PIL import Image

        try:
            with Image.open(path) as im:
                im.load()
        except Exception as exc:  # Pillow raises many types for damaged files
            raise BadInputError(f"{path.name} is not a complete image: {exc}") from None

    def to_output(self, item: np.ndarray, info: SourceInfo, kind: str) -> Any:
        return to_output(restore_components(item, info.components), check_output_kind(kind))


MEDIUM = ImageMedium()
