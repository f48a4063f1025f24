"""avforge.io.media: one clock for frames and audio, rate conversion, windows, one-line errors."""
from fractions import Fraction

import av
import numpy as np
import pytest

from avforge.core.errors import AvforgeError
from avforge.io import iter_windows, probe, read_av
from avforge.io.video_pyav import PyAVFrames

STEP = 4  # grey level per source frame index: decoded frames tell which source frame they are


def _write(path, n_frames=50, fps=25, sample_rate=16000, channels=None, audio_s=None, fmt=None, size=64):
    """Small H.264 + AAC file. Frame k is grey level k * STEP; audio is a 440 Hz tone per channel
    with amplitudes ``channels`` (None: no audio stream); ``n_frames=0`` writes no video stream
    frames (the stream exists only where the container keeps empty streams)."""
    with av.open(str(path), "w", format=fmt) as out:
        video = out.add_stream("libx264", rate=Fraction(fps))
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "ultrafast", "qp": "0"}
        if channels is not None:
            audio = out.add_stream("aac", rate=sample_rate, layout="mono" if len(channels) == 1 else "stereo")
        for k in range(n_frames):
            img = np.full((size, size, 3), k * STEP % 256, np.uint8)
            out.mux(video.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(video.encode())
        if channels is not None:
            n = round((n_frames / fps if audio_s is None else audio_s) * sample_rate)
            tone = np.sin(2 * np.pi * 440.0 * np.arange(n) / sample_rate)
            wave = np.stack([a * tone for a in channels]).astype(np.float32)
            for k in range(0, n, 1024):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, k:k + 1024]), format="fltp",
                                                   layout=audio.layout.name)
                frame.sample_rate, frame.pts = sample_rate, k
                out.mux(audio.encode(frame))
            out.mux(audio.encode())
    return path


def _source_index(frames):
    return np.rint(frames[:, :, :, 0].mean(axis=(1, 2)) / STEP).astype(int)


def _peak_hz(wave, sample_rate):
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return np.fft.rfftfreq(len(wave), 1 / sample_rate)[np.argmax(spectrum)]


@pytest.fixture(scope="module")
def clip25(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("media") / "c25.mp4", channels=[0.5])


@pytest.fixture(scope="module")
def clip30(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("media") / "c30.mp4", n_frames=60, fps=30, sample_rate=48000,
                  channels=[0.6, 0.2])


def test_round_trip_one_clock(clip25):
    info = probe(clip25)
    assert (info.num_frames, info.native_fps, info.width, info.height) == (50, 25.0, 64, 64)
    assert info.duration_s == pytest.approx(2.0) and info.has_audio and info.sample_rate == 16000
    clip = read_av(clip25)
    assert clip.frames.shape == (50, 64, 64, 3) and clip.frames.dtype == np.uint8
    assert clip.wave.shape == (50 * 640,) and clip.wave.dtype == np.float32
    assert (clip.fps, clip.sample_rate, clip.start_s, clip.duration_s) == (25.0, 16000, 0.0, 2.0)
    np.testing.assert_array_equal(_source_index(clip.frames), np.arange(50))
    assert _peak_hz(clip.wave, 16000) == pytest.approx(440, abs=1)
    assert np.sqrt(np.mean(clip.wave[1000:-1000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)


def test_30fps_is_sampled_at_the_nearest_timestamp(clip30):
    info = probe(clip30)
    assert (info.native_fps, info.num_frames, info.sample_rate) == (30.0, 60, 48000)
    clip = read_av(clip30)
    assert clip.frames.shape[0] == 50 and clip.duration_s == 2.0
    # grid time i / 25 s is nearest to source frame round(i * 30 / 25)
    np.testing.assert_array_equal(_source_index(clip.frames), np.rint(np.arange(50) * 1.2).astype(int))


def test_10fps_frames_are_repeated_on_the_25fps_grid(tmp_path):
    clip = read_av(_write(tmp_path / "c10.mp4", n_frames=20, fps=10, channels=[0.5]))
    assert clip.num_frames == 50 and len(clip.wave) == 50 * 640
    expected = np.minimum(np.rint(np.arange(50) * 0.4), 19).astype(int)  # nearest; the last holds
    np.testing.assert_array_equal(_source_index(clip.frames), expected)


def test_48k_stereo_becomes_16k_channel_mean(clip30):
    wave = read_av(clip30).wave
    assert wave.shape == (32000,)
    assert _peak_hz(wave, 16000) == pytest.approx(440, abs=1)
    # mean of 0.6 and 0.2 amplitudes: 0.4 (decord's (L + R) / sqrt(2) mix would give 0.57)
    assert np.sqrt(np.mean(wave[1000:-1000] ** 2)) == pytest.approx(0.4 / np.sqrt(2), rel=0.05)


def test_start_and_end_cut_on_the_grid(clip30):
    whole = read_av(clip30)
    part = read_av(clip30, start_s=0.51, end_s=1.3)  # 0.51 s lies in frame 12
    assert (part.start_s, part.num_frames, len(part.wave)) == (0.48, 21, 21 * 640)
    np.testing.assert_array_equal(part.frames, whole.frames[12:33])
    np.testing.assert_allclose(part.wave, whole.wave[12 * 640:33 * 640], atol=5e-3)
    assert read_av(clip30, start_s=1.5, end_s=9.0).num_frames == 13  # clamped to the video end
    with pytest.raises(AvforgeError, match="empty time range"):
        read_av(clip30, start_s=2.5)


# After a seek, ffmpeg's AAC decoder restarts its noise-substitution generator, so a 48 kHz
# stereo window may differ from the whole-file decode by ~1e-3 (about -60 dB); 16 kHz mono is exact.
@pytest.mark.parametrize("name, atol", [("clip25", 1e-6), ("clip30", 5e-3)])
def test_windows_cover_the_video_and_match_whole_reading(name, atol, request):
    path = request.getfixturevalue(name)
    whole = read_av(path)
    windows = list(iter_windows(path, window_s=0.52, overlap_s=0.12))
    assert [w.start_s for w in windows] == pytest.approx([0.0, 0.4, 0.8, 1.2, 1.6])
    assert [w.num_frames for w in windows] == [13, 13, 13, 13, 10]
    assert windows[-1].start_s + windows[-1].duration_s == pytest.approx(whole.duration_s)
    for w in windows:
        first = round(w.start_s * 25)
        assert len(w.wave) == w.num_frames * 640
        np.testing.assert_array_equal(w.frames, whole.frames[first:first + w.num_frames])
        np.testing.assert_allclose(w.wave, whole.wave[first * 640:first * 640 + len(w.wave)], atol=atol)


@pytest.mark.parametrize("size", [48, 16])
def test_narrow_video_decord_cannot_convert_is_read_with_pyav(size, tmp_path):
    """decord 0.6.0 fails on these widths ("size must exactly match"); the frames come from PyAV."""
    path = _write(tmp_path / "narrow.mp4", n_frames=40, channels=[0.5], size=size)
    info = probe(path)
    assert (info.num_frames, info.width, info.height) == (40, size, size)
    clip = read_av(path)
    assert clip.frames.shape == (40, size, size, 3)
    np.testing.assert_array_equal(_source_index(clip.frames), np.arange(40))
    windows = list(iter_windows(path, window_s=0.6, overlap_s=0.2))
    assert [w.num_frames for w in windows] == [15, 15, 15, 10]
    for w in windows:  # each window seeks on its own and gets the same frames
        first = round(w.start_s * 25)
        np.testing.assert_array_equal(w.frames, clip.frames[first:first + w.num_frames])
    assert np.array_equal(read_av(path, start_s=1.0, end_s=1.2).frames, clip.frames[25:30])


def test_pyav_fallback_gives_decord_pixels(clip25):
    frames = PyAVFrames(clip25, 50).get_batch([49, 0, 7, 7])  # any order, repeats, seeks back
    np.testing.assert_array_equal(frames, read_av(clip25).frames[[49, 0, 7, 7]])


def test_window_must_exceed_overlap(clip25):
    with pytest.raises(ValueError):
        next(iter_windows(clip25, window_s=0.5, overlap_s=0.5))


def test_short_audio_is_padded_and_long_audio_trimmed(tmp_path):
    short = read_av(_write(tmp_path / "short.mp4", channels=[0.5], audio_s=1.0))
    assert short.wave.shape == (32000,)
    assert np.abs(short.wave[:15000]).max() > 0.4
    assert np.abs(short.wave[17100:]).max() == 0.0  # beyond 1 s + one padded AAC frame
    long = read_av(_write(tmp_path / "long.mp4", channels=[0.5], audio_s=3.0))
    assert long.wave.shape == (32000,) and long.num_frames == 50


def test_missing_audio_as_silence(tmp_path):
    path = _write(tmp_path / "mute.mp4")
    clip = read_av(path, missing_audio="silence")
    assert clip.frames.shape[0] == 50 and clip.wave.shape == (32000,) and not clip.wave.any()
    assert probe(path).has_audio is False and probe(path).sample_rate is None


def _text(d):
    (d / "notes.mp4").write_text("this is not a video\n" * 20)
    return d / "notes.mp4"


def _truncated(d):
    data = _write(d / "full.mp4", channels=[0.5]).read_bytes()
    (d / "cut.mp4").write_bytes(data[:len(data) // 2])
    return d / "cut.mp4"


def _truncated_faststart(d):
    with av.open(str(d / "fs_src.mp4"), "w", options={"movflags": "faststart"}) as out:
        video = out.add_stream("libx264", rate=25)
        video.width = video.height = 64
        video.options = {"preset": "ultrafast"}
        for k in range(50):
            noise = np.random.default_rng(k).integers(0, 255, (64, 64, 3), dtype=np.uint8)
            out.mux(video.encode(av.VideoFrame.from_ndarray(noise, format="rgb24")))
        out.mux(video.encode())
    data = (d / "fs_src.mp4").read_bytes()
    (d / "fs.mp4").write_bytes(data[:len(data) // 2])
    return d / "fs.mp4"


def _audio_only(d):
    path = d / "speech.mp4"
    with av.open(str(path), "w") as out:
        audio = out.add_stream("aac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        out.mux(audio.encode(frame))
        out.mux(audio.encode())
    return path


BAD_INPUTS = {
    "missing": (lambda d: d / "absent.mp4", "file not found"),
    "empty": (lambda d: (d / "e.mp4").write_bytes(b"") and None or d / "e.mp4", "empty file"),
    "text_renamed": (_text, "not a video file"),
    "truncated": (_truncated, "corrupt or truncated"),
    "truncated_faststart": (_truncated_faststart, "corrupt video stream"),
    "audio_only": (_audio_only, "no video stream"),
    "no_audio": (lambda d: _write(d / "mute.mp4"), "no audio stream"),
    "zero_frames": (lambda d: _write(d / "zero.mkv", n_frames=0, channels=[0.5], audio_s=1.0, fmt="matroska"),
                    "zero frames"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_error(case, tmp_path):
    make, expected = BAD_INPUTS[case]
    path = make(tmp_path)
    for call in (read_av, probe) if case != "no_audio" else (read_av,):
        with pytest.raises(AvforgeError) as err:
            call(path)
        message = str(err.value)
        assert "\n" not in message and message.startswith(str(path)) and expected in message
