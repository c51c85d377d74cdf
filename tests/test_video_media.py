"""The video medium: y4m, raw yuv, pipes, PyAV sources and previews; what is converted or refused."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from codec.errors import BadInputError, UsageError
from codec.media import medium_for_path
from codec.media.video import MEDIUM, Clip, VideoFrame, as_frame, rgb_to_yuv420, yuv420_to_rgb, y4m_header
from video_fixtures import moving_clip


def write(path: Path, clip: Clip, fmt: str | None = None) -> Path:
    sink = MEDIUM.open_sink(path, fmt or path.suffix[1:], clip.info(), {})
    for frame in clip.frames:
        sink.write(frame)
    sink.close()
    return path


def same(a, b) -> bool:
    return [f.to_bytes() for f in a] == [f.to_bytes() for f in b]


def test_video_files_belong_to_the_video_medium():
    for name in ("a.mp4", "a.y4m", "a.yuv", "a.264", "a.mkv"):
        assert medium_for_path(Path(name)).name == "video"


def test_y4m_round_trip_is_exact_and_counts_frames(tmp_path):
    clip = moving_clip(4, width=81, height=47, fps=Fraction(30000, 1001))
    path = write(tmp_path / "a.y4m", clip)
    with MEDIUM.open_source(path, {}) as source:
        assert source.info.frame_count == 4 and source.info.frame_rate == Fraction(30000, 1001)
        assert same(source, clip.frames)


def test_start_and_frames_choose_a_window(tmp_path):
    clip = moving_clip(6)
    path = write(tmp_path / "a.y4m", clip)
    with MEDIUM.open_source(path, {"start": 0.08, "frames": 3}) as source:
        assert source.length == 3 and same(source, clip.frames[2:5])
    with pytest.raises(BadInputError, match="no video frames"):
        list(MEDIUM.open_source(path, {"start": 10.0}))


def test_a_y4m_pipe_is_read_from_a_stream():
    clip = moving_clip(3)
    data = io.BytesIO()
    data.write(y4m_header(clip.info()))
    for f in clip.frames:
        data.write(b"FRAME\n" + f.to_bytes())
    data.seek(0)
    assert same(MEDIUM.open_source(data, {}), clip.frames)


def test_raw_yuv_needs_its_size_and_reads_with_it(tmp_path):
    clip = moving_clip(3)
    path = write(tmp_path / "a.yuv", clip)
    with pytest.raises(UsageError, match="-s"):
        MEDIUM.open_source(path, {})
    with MEDIUM.open_source(path, {"size": (80, 48), "fps": Fraction(30)}) as source:
        assert source.info.frame_rate == 30 and same(source, clip.frames)


def test_interlaced_and_empty_y4m_are_refused(tmp_path):
    clip = moving_clip(1)
    interlaced = tmp_path / "i.y4m"
    interlaced.write_bytes(y4m_header(clip.info()).replace(b"Ip", b"It") + b"FRAME\n" + clip.frames[0].to_bytes())
    with pytest.raises(BadInputError, match="interlaced"):
        MEDIUM.open_source(interlaced, {})
    empty = tmp_path / "e.y4m"
    empty.write_bytes(y4m_header(clip.info()))
    with pytest.raises(BadInputError, match="no video frames"):
        list(MEDIUM.open_source(empty, {}))
    truncated = tmp_path / "t.y4m"
    truncated.write_bytes(y4m_header(clip.info()) + b"FRAME\n" + clip.frames[0].to_bytes()[:100])
    with pytest.raises(BadInputError, match="ends inside"):
        list(MEDIUM.open_source(truncated, {}))


def test_high_bit_depth_444_y4m_is_converted_with_a_note(tmp_path):
    h, w = 16, 16
    rows, cols = np.mgrid[0:h, 0:w]
    y = (rows * 64 + cols * 4).astype("<u2")
    u = np.full((h, w), 512, "<u2")
    v = np.full((h, w), 600, "<u2")
    path = tmp_path / "deep.y4m"
    path.write_bytes(f"YUV4MPEG2 W{w} H{h} F25:1 Ip C444p10\n".encode() + b"FRAME\n" + y.tobytes() + u.tobytes()
                     + v.tobytes())
    with MEDIUM.open_source(path, {}) as source:
        (frame,) = list(source)
        assert any("converted to 8-bit 4:2:0" in n for n in source.notes)
    assert frame.u.shape == (8, 8) and int(frame.u[0, 0]) == 128 and int(frame.v[0, 0]) == 150
    assert np.array_equal(frame.y, ((y.astype(int) + 2) >> 2).astype(np.uint8))


def test_mkv_preview_is_lossless_and_read_back_through_pyav(tmp_path):
    clip = moving_clip(4)
    odd = moving_clip(2, width=81, height=47)
    assert same(MEDIUM.open_source(write(tmp_path / "odd.mkv", odd), {}), odd.frames)  # FFV1 keeps odd sides
    path = write(tmp_path / "p.mkv", clip)
    MEDIUM.verify_file(path)
    with MEDIUM.open_source(path, {}) as source:
        assert source.info.frame_rate == 25 and same(source, clip.frames)
    with MEDIUM.open_source(path, {"start": 0.08, "frames": 1}) as source:
        assert same(source, clip.frames[2:3])


def test_mp4_preview_is_close_and_complete(tmp_path):
    clip = moving_clip(4)
    path = write(tmp_path / "p.mp4", clip)
    MEDIUM.verify_file(path)
    with MEDIUM.open_source(path, {}) as source:
        back = list(source)
    assert len(back) == 4
    error = np.mean([(a.y.astype(float) - b.y) ** 2 for a, b in zip(clip.frames, back)])
    assert 10 * np.log10(255 ** 2 / error) > 35


def test_a_sink_that_got_no_frame_leaves_no_file(tmp_path):
    sink = MEDIUM.open_sink(tmp_path / "x.y4m", "y4m", moving_clip(1).info(), {"start": 5.0})
    sink.write(moving_clip(1).frames[0])
    with pytest.raises(BadInputError):
        sink.close()
    assert not (tmp_path / "x.y4m").exists()


def test_broken_files_are_bad_input(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(BadInputError):
        MEDIUM.open_source(junk, {})
    with pytest.raises(BadInputError, match="no such file"):
        MEDIUM.open_source(tmp_path / "missing.mp4", {})


def test_frames_given_as_rgb_or_planes_are_checked_against_the_size():
    info = moving_clip(1).info()
    rgb = np.zeros((48, 80, 3), np.uint8)
    assert as_frame(rgb, info).y.shape == (48, 80)
    with pytest.raises(UsageError):
        as_frame(np.zeros((40, 80, 3), np.uint8), info)
    with pytest.raises(UsageError):
        as_frame("frame", info)


def test_colour_conversion_round_trip_is_close():
    rows, cols = np.mgrid[0:64, 0:64]
    rgb = np.stack([60 + 2 * rows, 200 - cols, 100 + rows + cols], axis=-1).astype(np.uint8)  # smooth colour
    for matrix in (1, 6):
        back = yuv420_to_rgb(*rgb_to_yuv420(rgb, matrix=matrix), matrix=matrix)
        assert np.abs(back.astype(int) - rgb).mean() < 2


def test_conformance_sample_is_small_and_not_a_multiple_of_64():
    clip = MEDIUM.conformance_sample()
    assert len(clip.frames) == 4 and (clip.frames[0].width % 64, clip.frames[0].height % 64) != (0, 0)
    assert isinstance(clip.frames[0], VideoFrame)


def test_rate_is_in_kbit_per_second():
    info = moving_clip(1).info()
    rate = MEDIUM.rate(1000, info, frames=25)
    assert rate["kbit_per_second"] == pytest.approx(8.0)


def test_a_container_without_video_is_left_to_the_audio_medium(tmp_path):
    import av

    path = tmp_path / "sound.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    assert not MEDIUM.claims(path)
    assert MEDIUM.claims(write(tmp_path / "pic.mkv", moving_clip(1)))


def test_transcode_codes_a_folder_of_clips_with_the_shipped_model(tmp_path):
    """The batch engine's video kind: a folder of clips in, one .nmc per clip out, every frame decodable."""
    import codec
    from codec.cli.main import main

    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    write(src / "a.y4m", moving_clip(3, 64, 48))
    write(src / "sub" / "b.y4m", moving_clip(2, 48, 32))
    assert main(["transcode", "-i", str(src), "-o", str(tmp_path / "out"), "--quiet"]) == 0
    assert len(codec.decode(tmp_path / "out" / "a.nmc")) == 3
    assert len(codec.decode(tmp_path / "out" / "sub" / "b.nmc")) == 2
