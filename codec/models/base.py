"""The codec contract: what a model family declares and implements to plug into the package.

A *family* is one folder ``codec/models/<medium>/<family>/`` whose
``__init__.py`` defines ``FAMILY``, an instance of :class:`Family`. It says:

- which medium it codes and which model ids (with revisions and weight
  digests) it ships: :class:`ModelEntry`;
- which rate controls it offers: :class:`RateControl` (quality levels, a
  continuous level, a target rate, presets);
- how to load a model: :meth:`Family.load` returns a :class:`Model`, whose
  :meth:`Model.encoder` and :meth:`Model.decoder` open sessions that turn
  media items into packets and back, PyAV-style:
  ``encoder.encode(item) -> packets``, ``decoder.decode(packet) -> items``;
- how its codec parameters read back from a header: :meth:`Family.check_params`
  (cheap, no weights needed, so ``codec info`` can say whether a file decodes).

Everything else (the CLI, ``codec.open``, the batch engine, the evaluator,
conformance generation) speaks only to this contract and to the media
registry in :mod:`codec.media`, so a new family touches no file outside its
folder. The package's ``__init__`` of a family must not import torch: the
registry imports every family to list them, and ``codec info`` and
``codec --help`` stay fast and torch-free.

Media items (see :mod:`codec.media`): an image is an HxWx3 uint8 RGB array;
video frames are :class:`codec.media.video.VideoFrame`; audio is float32
arrays of shape (samples, channels).
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codec.container.header import FileHeader
from codec.container.packet import Packet
from codec.container.source import MediaType, SourceInfo
from codec.errors import UsageError

PRESETS = ("fast", "medium", "slow")


class Exactness(str, enum.Enum):
    """Which decoded outputs a family guarantees to be identical on every machine.

    ``ENTROPY``: the decoded symbols and everything that decides probabilities
    (the latent the decoder reconstructs) are exact; the final synthesis is
    floating point, so decoded samples may differ by a rounding step between
    machines, BLAS builds or thread counts. ``SAMPLES``: the decoded samples
    are exact too (everything that feeds a later frame must be, in video).
    """

    ENTROPY = "entropy"
    SAMPLES = "samples"


@dataclass(frozen=True)
class RateControl:
    """The rate controls a model offers.

    ``qualities``: ``-q 1..qualities`` (1 smallest); ``continuous``: a
    fractional quality between levels is accepted; ``target``: what a target
    rate means ("bpp": bits per pixel of the whole file; "bitrate": bits per
    second), or None when a target cannot be given; ``presets``: encoder
    effort settings, fastest first (the file format is the same for all).
    """

    qualities: int
    default_quality: int
    continuous: bool = True
    target: str | None = None
    presets: tuple[str, ...] = ("fast",)

    def check_quality(self, quality: float) -> float:
        if isinstance(quality, bool) or not isinstance(quality, (int, float)):
            raise UsageError(f"quality must be a number 1..{self.qualities}, got {quality!r}")
        if not self.continuous and quality != int(quality):
            raise UsageError(f"this model takes whole quality levels 1..{self.qualities}, got {quality}")
        if not 1 <= quality <= self.qualities:
            raise UsageError(f"quality must be 1..{self.qualities}, got {quality}")
        return float(quality)

    def check_preset(self, preset: str) -> str:
        if preset not in self.presets:
            raise UsageError(f"unknown preset {preset!r}; this model offers {', '.join(self.presets)}")
        return preset


@dataclass(frozen=True)
class ModelEntry:
    """One released model: an id, a revision, and the digest of its exact weights.

    Ids are immutable: once a file names ``id@revision``, those weights
    decode it for the life of the format, so retrained weights get a new
    revision and old ones stay. ``weights`` is the file name under the
    family's weights folder (None for families that ship no weights, whose
    ``digest`` then pins the family's definition); ``digest`` is the hex
    SHA-256 of that file, written into every coded file.
    """

    id: str
    revision: int
    weights: str | None
    digest: str
    summary: str = ""

    @property
    def full_id(self) -> str:
        return f"{self.id}@{self.revision}"

    @property
    def digest_bytes(self) -> bytes:
        return bytes.fromhex(self.digest)


@dataclass(frozen=True)
class Option:
    """A family's (or medium's) own command-line option, e.g. ``--intra-period``.

    The CLI adds it to ``codec encode`` (or ``decode``); the value reaches the
    family in ``EncodeOptions.extra[dest]`` (or ``DecodeOptions.extra``).
    """

    flags: tuple[str, ...]
    dest: str
    help: str
    type: Callable[[str], Any] = str
    default: Any = None
    metavar: str | None = None


class Progress:
    """Where long work reports how far it is; the CLI shows a bar, the API nothing by default."""

    def start(self, total: float | None, unit: str, description: str) -> None:
        pass

    def advance(self, amount: float = 1) -> None:
        pass

    def note(self, message: str) -> None:
        """A detail worth a line with ``-v`` (what was chosen, how long a stage took)."""

    def finish(self) -> None:
        pass


@dataclass(frozen=True)
class EncodeOptions:
    """How to encode: one rate control (or the default quality), effort, resources."""

    quality: float | None = None
    target: float | None = None      # bits per pixel or bits per second, as the rate control says
    preset: str = "fast"
    threads: int = 1
    device: str = "cpu"
    time_limit: float | None = None  # seconds of encode-time optimisation at most (slow presets)
    progress: Progress = field(default_factory=Progress)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DecodeOptions:
    threads: int = 1
    device: str = "cpu"
    progress: Progress = field(default_factory=Progress)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainRequest:
    """What ``codec train`` asks of a family (resumable bursts, as the image trainer does)."""

    config: Path
    workdir: Path
    resume: bool = False
    init_from: Path | None = None
    data: tuple[str, ...] | None = None   # training folders overriding the config's
    steps: int | None = None              # total steps of the schedule, overriding the config's
    max_minutes: float | None = None      # stop (with a checkpoint) after this long
    device: str = "auto"
    export: Path | None = None            # instead of training: write a weights file from the checkpoint
    model_id: str | None = None           # the id --export writes into the weights file


@dataclass(frozen=True)
class CodedPacket:
    """What an encoder session hands to the container: segments plus timing."""

    segments: tuple[bytes, ...]
    pts: int = 0
    duration: int = 0
    random_access: bool = True


class EncoderSession(ABC):
    """Encodes one media item (an image, a video, an audio stream) item by item.

    The header is written when the first packet is ready, so a session may
    decide its parameters while encoding (a target rate): ``codec_params`` and
    ``quality`` must be final once :meth:`encode` has returned packets.
    """

    @abstractmethod
    def encode(self, item: Any) -> Iterable[CodedPacket]:
        """Code one item (image, frame or chunk of samples); packets may lag behind items."""

    def flush(self) -> Iterable[CodedPacket]:
        """Packets still held back, at the end of the input."""
        return ()

    @property
    @abstractmethod
    def codec_params(self) -> bytes:
        """The header's ``codec_params`` (model-defined)."""

    @property
    def quality(self) -> int | None:
        """The header's display ``quality`` field, if the session has one."""
        return None

    def totals(self) -> tuple[int | None, int | None]:
        """(frames, duration) for the end packet; None lets the container count packets and durations."""
        return None, None


class DecoderSession(ABC):
    """Decodes the packets of one file into media items, in order."""

    @abstractmethod
    def decode(self, packet: Packet) -> Iterable[Any]:
        """Items this packet completes (usually one)."""

    def flush(self) -> Iterable[Any]:
        return ()

    def reset(self) -> None:
        """Forget inter-packet state: the next packet is a random-access point (after a seek)."""


class Model(ABC):
    """A loaded model: weights in memory, ready to open sessions."""

    def __init__(self, family: "Family", entry: ModelEntry) -> None:
        self.family = family
        self.entry = entry

    @property
    def digest(self) -> bytes:
        return self.entry.digest_bytes

    @property
    def rate_control(self) -> RateControl:
        """The family's rate controls for this entry (override when loaded weights change them)."""
        return self.family.rate_control(self.entry)

    @abstractmethod
    def encoder(self, source: SourceInfo, options: EncodeOptions) -> EncoderSession:
        """A session for one media item described by ``source`` (raise BadInputError for what it cannot code)."""

    @abstractmethod
    def decoder(self, header: FileHeader, options: DecodeOptions) -> DecoderSession:
        """A session for the file with ``header`` (already matched to this model by id and digest)."""

    @abstractmethod
    def exact_fingerprint(self, header: FileHeader, packets: list[Packet], device: str = "cpu") -> str:
        """SHA-256 (hex) of what the family guarantees to be identical on every machine (its
        :class:`Exactness`), computed on ``device``: conformance files record it, every test run checks
        it, and the GPU check compares the CPU's with a GPU's."""


class Family(ABC):
    """A model family: see the module docstring. Subclasses set the class attributes."""

    #: short name, also accepted as ``--model NAME`` for the family's default model
    name: str
    media: MediaType
    #: the "format" strings in weights files' metadata that this family reads
    formats: tuple[str, ...] = ()
    #: released models, every revision ever shipped; the last entry of an id is its current revision
    models: tuple[ModelEntry, ...] = ()
    #: the family's default model id for its medium, when it is the medium's default family
    default_rank: int = 100
    exactness: Exactness = Exactness.ENTROPY
    encode_options: tuple[Option, ...] = ()
    decode_options: tuple[Option, ...] = ()
    #: the folder holding the family's weights files
    weights_dir: Path | None = None

    @abstractmethod
    def load(self, entry: ModelEntry, weights: bytes | None) -> Model:
        """Build the model of ``entry`` from the bytes of its verified weights file (None if it has none)."""

    def rate_control(self, entry: ModelEntry) -> RateControl:
        """The entry's rate controls without loading weights (``codec models``); override when they differ."""
        raise NotImplementedError

    def preset_work(self, preset: str) -> str:
        """What ``preset`` spends (steps, passes), in words. The evaluator keys its cache on it, so a
        retuned preset is measured again instead of reusing results of the old budget."""
        return ""

    @abstractmethod
    def check_params(self, header: FileHeader) -> dict[str, Any]:
        """Validate the header's ``codec_params`` for this family and describe them (for ``codec info``).

        Raises :class:`~codec.errors.CorruptStreamError` when they are not
        valid. Must be cheap: no weights, no torch.
        """

    def train(self, request: TrainRequest) -> None:
        """Train (or export) this family's model; families without training say so."""
        raise UsageError(f"the {self.name} family has nothing to train")

    def weights_path(self, entry: ModelEntry) -> Path | None:
        if entry.weights is None:
            return None
        if self.weights_dir is None:
            raise ValueError(f"family {self.name} has weights files but no weights_dir")
        return self.weights_dir / entry.weights
