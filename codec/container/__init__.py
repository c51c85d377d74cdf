"""The file format of ``bitstream/SPEC.md``: headers, packets, reading and writing.

The container never touches tensors; it moves bytes and the metadata that
says how to interpret them.
"""

from codec.container.header import FILE_EXTENSION, MAGIC, MIME_TYPE, VERSION, FileHeader
from codec.container.packet import IndexEntry, Packet
from codec.container.reader import ContainerFile, ContainerReader, open_container, parse_container, read_container
from codec.container.source import ChromaFormat, MediaType, SourceInfo
from codec.container.writer import ContainerWriter, build_container

__all__ = [
    "FILE_EXTENSION", "MAGIC", "MIME_TYPE", "VERSION", "ChromaFormat", "ContainerFile", "ContainerReader", "ContainerWriter",
    "FileHeader", "IndexEntry", "MediaType", "Packet", "SourceInfo", "build_container", "open_container",
    "parse_container", "read_container",
]
