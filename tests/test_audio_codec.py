"""The RVQ audio codec through codec.open / codec.encode / codec.decode, with a tiny random model.

What is checked: packet timing and lengths, identical bytes for any input
chunking, channel counts from mono to 5.1 and sample rates from 8 to 48 kHz,
rate control, silence, clipping, DC, one-sample input, damaged files (every
intact packet still decodes through the seek index), bounded buffers, and
the exact symbol path.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

import codec
from codec import zoo
from codec.container.reader import parse_container
from codec.errors import BadInputError, CorruptStreamError, UsageError
from codec.media.audio import AudioClip

from audio_fixtures import MODEL_ID, tiny_family, tone


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    fam = tiny_family(tmp_path_factory.mktemp("rvq-weights"))
    zoo.register_family(fam)
    yield fam
    zoo.unregister_family(fam.name)


def encode(samples: np.ndarray, rate: int, chunk: int | None = None, **options) -> bytes:
    buf = io.BytesIO()
    with codec.open(buf, "w", media="audio", model=MODEL_ID, samplerate=rate, channels=samples.shape[1],
                    **options) as w:
        step = chunk or samples.shape[0]
        for i in range(0, samples.shape[0], step):
            w.write(samples[i:i + step])
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    blocks = codec.decode(data)
    return np.concatenate(blocks) if blocks else np.zeros((0, 1), np.float32)


@pytest.mark.parametrize("rate,channels", [(16000, 1), (44100, 2), (48000, 6), (8000, 1), (22050, 2)])
def test_round_trip_keeps_rate_channels_and_length(family, rate, channels):
    x = tone(1.7, rate, channels)
    data = encode(x, rate, bitrate="12k")
    y = decode(data)
    assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()
    with codec.open(data) as r:
        assert (r.info.samplerate, r.info.channels) == (rate, channels)
        assert r.info.duration_seconds == pytest.approx(x.shape[0] / rate)


def test_identical_bytes_whatever_the_chunk_size(family):
    x = tone(2.3, 44100, 2)
    reference = encode(x, 44100, bitrate="6k")
    for chunk in (1, 441, 1000, 14112, 30001):
        if chunk == 1:
            x_short = x[:5000]
            assert encode(x_short, 44100, chunk=1, bitrate="6k") == encode(x_short, 44100, chunk=777, bitrate="6k")
            continue
        assert encode(x, 44100, chunk=chunk, bitrate="6k") == reference


def test_packets_carry_pts_and_durations_in_samples(family):
    rate = 16000
    x = tone(2.0, rate)
    f = parse_container(encode(x, rate))
    per_packet = 48 * 320 * rate // 24000
    assert [p.pts for p in f.packets] == [k * per_packet for k in range(len(f.packets))]
    assert sum(p.duration for p in f.packets) == x.shape[0] == f.end.duration
    assert all(p.random_access for p in f.packets)
    # the decoder runs 80 ms behind: packets continue until they cover the end plus that delay
    assert len(f.packets) * per_packet >= x.shape[0] + 0.08 * rate


def test_bitrate_follows_the_target_and_quality_levels(family):
    """The tiny model tops out near 2 kbit/s (6 codebooks of 32 entries), so the targets stay below."""
    x = tone(6.0, 16000)
    targets = (900, 1300, 1800)
    sizes = [len(encode(x, 16000, bitrate=b)) for b in targets]
    assert sizes[0] < sizes[1] < sizes[2]
    for target, size in zip(targets, sizes):
        assert 8 * size / 6.0 < 1.1 * target + 8 * 200 / 6.0   # header and end packet: a few hundred bytes
    assert len(encode(x, 16000, quality=1)) < len(encode(x, 16000, quality=6))


def test_stereo_shares_bits_by_need(family):
    """Identical channels have a silent side: every codebook goes to the mid channel."""
    mono = tone(2.0, 48000)
    data = encode(np.repeat(mono, 2, axis=1), 48000, bitrate="6k")
    for packet in parse_container(data).packets:
        counts = list(packet.segments[0])
        assert counts[1] == 0 and counts[0] > 0


def test_silence_is_cheap_and_decodes_to_silence(family):
    x = np.zeros((48000, 2), np.float32)
    data = encode(x, 48000, bitrate="24k")
    assert all(sum(p.segments[0]) == 0 for p in parse_container(data).packets)
    assert len(data) < 300
    assert not decode(data).any()


@pytest.mark.parametrize("kind", ["clipping", "dc", "full-scale noise"])
def test_hostile_signals_code_without_error(family, kind):
    rng = np.random.default_rng(1)
    x = tone(1.0, 16000)
    x = {"clipping": np.clip(8 * x, -1, 1), "dc": x * 0.2 + 0.7,
         "full-scale noise": rng.uniform(-1, 1, x.shape).astype(np.float32)}[kind]
    y = decode(encode(x.astype(np.float32), 16000))
    assert y.shape == x.shape and np.isfinite(y).all()


def test_one_sample_and_integer_pcm(family):
    y = decode(encode(np.array([[0.5]], np.float32), 16000))
    assert y.shape == (1, 1)
    pcm = (tone(0.5, 16000) * 32767).astype(np.int16)
    assert decode(encode(pcm, 16000)).shape == pcm.shape


def test_bad_input_is_refused_with_one_line(family):
    with pytest.raises(BadInputError, match="12345 Hz"):
        encode(tone(0.2, 12345), 12345)
    with pytest.raises(BadInputError, match="channels"):
        encode(tone(0.2, 16000, 9), 16000)
    with pytest.raises(BadInputError, match="NaN"):
        encode(np.full((100, 1), np.nan, np.float32), 16000)
    with pytest.raises(UsageError):
        encode(tone(0.2, 16000, 2), 16000, chunk=None, bitrate="-3k")


def test_damaged_packet_every_intact_packet_still_decodes(family):
    rate = 16000
    x = tone(4.0, rate)
    data = bytearray(encode(x, rate, bitrate="6k"))
    packets = parse_container(bytes(data)).packets
    bad = packets[2]
    data[bad.offset + 20] ^= 0xFF
    with codec.open(bytes(data)) as r:
        got = []
        with pytest.raises(CorruptStreamError, match="packet 2"):
            for block in r:
                got.append(block)
        assert sum(b.shape[0] for b in got) > 0
    per_packet = packets[0].duration
    decoded, failed = [], []
    with codec.open(bytes(data)) as r:
        for k in range(len(packets)):
            r.seek((k + 0.5) * per_packet / rate)
            try:
                decoded.append(next(iter(r)).shape[0])
            except CorruptStreamError:
                failed.append(k)
            except StopIteration:
                decoded.append(0)
    assert failed == [2]
    assert all(n > 0 for n in decoded[:-1])


def test_seek_resets_and_restarts_at_the_packet(family):
    rate = 16000
    x = tone(3.0, rate)
    data = encode(x, rate)
    with codec.open(data) as r:
        at = r.seek(1.5)
        rest = np.concatenate(list(r))
    per_packet = 48 * 320 * rate // 24000
    assert at == pytest.approx(per_packet / rate * int(1.5 * rate // per_packet))
    assert rest.shape[0] == x.shape[0] - int(at * rate)


def test_buffers_stay_bounded_whatever_the_length(family):
    """Ten seconds through the streaming coder (16 packets): buffers never hold more than a packet or two,
    so their size does not grow with the length (the 10-hour case is the same loop, longer)."""
    from codec.models.audio.rvq.coder import StreamDecoder, StreamEncoder
    model = zoo.load_model(family.name, family.models[0].full_id)
    geo = model.geometry(16000, 1, 48)
    enc, dec = StreamEncoder(model.loaded, geo, 6000), StreamDecoder(model.loaded, geo)
    rng = np.random.default_rng(0)
    most_enc = most_dec = 0
    for second in range(10):
        for segments, pts, duration in enc.push((0.1 * rng.standard_normal((16000, 1))).astype(np.float32)):
            dec.decode(segments, pts, duration, {})
            most_dec = max(most_dec, dec.internal.shape[1])
        most_enc = max(most_enc, enc.buf.shape[1])
    assert most_enc <= 2 * geo.packet_source + 16000
    assert most_dec <= 2 * geo.packet + 2 * geo.delay


def test_threads_change_neither_bytes_nor_symbols(family):
    """The prior's tables are integers: coding and decoding the symbols with 1 or 2 threads gives the same
    bytes, the same codes and, through the same network, the same samples."""
    from codec.models.audio.rvq.coder import unpack

    x = tone(1.5, 48000, 2)
    one, two = encode(x, 48000, bitrate="1.8k", threads=1), encode(x, 48000, bitrate="1.8k", threads=2)
    assert one == two
    f = parse_container(one)
    model = zoo.model_for_header(f.header)
    geo = model.geometry(48000, 2, 48)
    for packet in f.packets:
        n1, c1 = unpack(model.loaded, geo, packet.segments, threads=1)
        n2, c2 = unpack(model.loaded, geo, packet.segments, threads=2)
        assert n1 == n2 and sum(n1) > 0 and np.array_equal(c1, c2)
    assert np.array_equal(np.concatenate(codec.decode(one, threads=1)), np.concatenate(codec.decode(one, threads=2)))


def test_exact_fingerprint_is_of_the_symbols(family):
    x = tone(1.0, 16000)
    data = encode(x, 16000)
    f = parse_container(data)
    model = zoo.model_for_header(f.header)
    a = model.exact_fingerprint(f.header, f.packets)
    assert a == model.exact_fingerprint(parse_container(encode(x, 16000, chunk=333)).header, f.packets)
    assert len(a) == 64


def test_in_memory_clip_and_tuple_sources(family):
    x = tone(0.7, 44100, 2)
    a = codec.encode(AudioClip(x, 44100), media="audio", model=MODEL_ID)
    b = codec.encode((x, 44100), media="audio", model=MODEL_ID)
    assert a == b
    with pytest.raises(UsageError, match="sample rate"):
        codec.encode(x, media="audio", model=MODEL_ID)
