"""Exception types shared by every layer of the package.

The command line maps each class to one exit code (see ``codec.cli.exitcodes``),
so a user mistake is reported as one clear message rather than a traceback.
Library users catch :class:`CodecError` to handle everything the package
raises on purpose.
"""

from __future__ import annotations


class CodecError(Exception):
    """Base class of every error this package raises deliberately."""


class UsageError(CodecError):
    """A wrong option or argument combination given by the caller."""


class BadInputError(CodecError):
    """An input that cannot be used: unreadable, wrong kind, unsupported."""

    def in_file(self, name: str) -> "BadInputError":
        """This error with its message prefixed by the file it concerns (returns ``self``)."""
        self.args = (f"{name}: {self.args[0]}",) + self.args[1:]
        return self


class CorruptStreamError(BadInputError):
    """A bitstream that fails validation: truncated, altered or malformed.

    ``packet`` and ``offset`` locate the damage when known: the index of the
    packet in the file and the byte offset from the start of the file (or of
    the entropy-coded payload, when raised by the entropy decoder alone).
    """

    def __init__(self, message: str, *, packet: int | None = None, offset: int | None = None) -> None:
        self.packet = packet
        self.offset = offset
        where = []
        if packet is not None:
            where.append(f"packet {packet}")
        if offset is not None:
            where.append(f"byte offset {offset}")
        super().__init__(f"{message} (at {', '.join(where)})" if where else message)


class UnsupportedVersionError(BadInputError):
    """A file written by a newer, incompatible format version."""


class ModelMismatchError(BadInputError):
    """A file whose model id or weights digest does not match the model at hand."""


class OutputError(CodecError):
    """An output that cannot be written."""


class OutputExistsError(OutputError):
    """An output path exists and overwriting was not allowed."""
