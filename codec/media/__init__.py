"""The media registry: image, video and audio, each a :class:`~codec.media.base.Medium`.

Every module of this package that defines ``MEDIUM`` is registered on first
use. :func:`medium_for_path` picks the medium that reads a source file,
:func:`medium_for_output` the one that writes a decoded file's extension.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from codec.container.source import MediaType
from codec.errors import BadInputError, UsageError
from codec.media.base import MediaSink, MediaSource, Medium

_MEDIA: dict[str, Medium] = {}
_discovered = False


def register_medium(medium: Medium) -> Medium:
    _MEDIA[medium.name] = medium
    return medium


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        medium = getattr(module, "MEDIUM", None)
        if isinstance(medium, Medium):
            _MEDIA.setdefault(medium.name, medium)


def all_media() -> list[Medium]:
    _discover()
    return sorted(_MEDIA.values(), key=lambda m: int(m.media_type))


def medium_named(name: str) -> Medium:
    _discover()
    if name not in _MEDIA:
        raise UsageError(f"unknown medium {name!r}; choose from {', '.join(m.name for m in all_media())}")
    return _MEDIA[name]


def medium_for_type(media_type: MediaType) -> Medium:
    for medium in all_media():
        if medium.media_type is media_type:
            return medium
    raise BadInputError(f"this installation has no {media_type.name.lower()} reader or writer")


def medium_for_path(path: Path) -> Medium | None:
    """The medium that reads ``path`` as a source, or None."""
    return next((m for m in all_media() if m.claims(path)), None)


# For messages only: extensions of media that may have no medium installed here.
_WELL_KNOWN = {
    "video": (".mp4", ".mkv", ".mov", ".webm", ".avi", ".y4m", ".yuv", ".m4v", ".ts"),
    "audio": (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".aiff"),
}
_EXAMPLES = (".png", ".jpg", ".webp", ".tif", ".y4m", ".mp4", ".mkv", ".wav", ".flac")


def installed_media_text() -> str:
    """What this installation reads, e.g. 'image (.png, .jpg, .webp, .tif, ...)', for messages."""
    parts = []
    for medium in all_media():
        extensions = medium.source_extensions()
        examples = [e for e in _EXAMPLES if e in extensions] or sorted(extensions)[:4]
        more = ", ..." if len(extensions) > len(examples) else ""
        parts.append(f"{medium.name} ({', '.join(examples)}{more})")
    return "; ".join(parts) or "nothing"


def unsupported_source_message(path: Path) -> str:
    """Why no medium reads ``path``, and what this installation does read."""
    suffix = path.suffix.lower()
    kind = next((name for name, extensions in _WELL_KNOWN.items() if suffix in extensions), None)
    if kind is not None and kind not in _MEDIA:
        return (f"{path}: {kind} is not supported by this installation yet (no {kind} reader or model is "
                f"installed); it codes {installed_media_text()}")
    return (f"{path}: not a kind of media this installation reads (extension {path.suffix or 'none'!r}); it "
            f"codes {installed_media_text()}; give --media (media= in Python) if the extension is misleading")


def medium_for_output(path: Path, media_type: MediaType) -> str:
    """The output format for a decoded file at ``path`` (its extension), checked against the medium."""
    medium = medium_for_type(media_type)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in medium.output_formats():
        what = repr(path.suffix) if path.suffix else f"{path} (no extension to tell the format)"
        raise UsageError(f"cannot write {medium.name} as {what}; use one of: "
                         f"{', '.join('.' + f for f in medium.output_formats())}, or name the format with "
                         f"--format (format= in Python)")
    return fmt


__all__ = ["MediaSink", "MediaSource", "Medium", "all_media", "installed_media_text", "medium_for_output",
           "medium_for_path", "medium_for_type", "medium_named", "register_medium", "unsupported_source_message"]
