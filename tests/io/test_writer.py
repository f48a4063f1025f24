"""write_video: H.264 + AAC mp4 that reads back with the right frames, timing and audio."""
import av
import numpy as np
import pytest

from avforge.core.errors import AvforgeError
from avforge.io.writer import AAC_FRAME_SAMPLES, write_video

SR = 16000


def _smooth_frames(n_frames: int, size: int = 64) -> np.ndarray:
    """(T, H, W, 3) gradients whose brightness encodes the frame index (easy to compress)."""
    y, x = np.mgrid[0:size, 0:size]
    frames = np.empty((n_frames, size, size, 3), np.uint8)
    for i in range(n_frames):
        frames[i, ..., 0] = (x * 2 + i * 3) % 256
        frames[i, ..., 1] = y * 2
        frames[i, ..., 2] = 40 + 3 * i
    return frames


def _bursts(n_samples: int, every: int, seed: int = 0) -> np.ndarray:
    """Silence with a 25 ms noise burst every ``every`` samples (sharp cross-correlation peaks)."""
    rng = np.random.default_rng(seed)
    wave = np.zeros(n_samples, np.float32)
    for start in range(0, n_samples - 400, every):
        wave[start:start + 400] = rng.uniform(-0.5, 0.5, 400)
    return wave


def _decode(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    with av.open(str(path)) as container:
        wave = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)[0]
    return frames, wave, rate


def test_frames_and_audio_read_back_on_one_clock(tmp_path):
    n_frames = 60  # 2.4 s
    frames = _smooth_frames(n_frames)
    wave = _bursts(n_frames * 640, every=5000)
    path = write_video(tmp_path / "clip.mp4", frames, wave)
    got_frames, got_wave, rate = _decode(path)
    assert rate == 25
    assert got_frames.shape == frames.shape
    assert np.abs(got_frames.astype(int) - frames).mean() < 3.0
    # every decoded frame is nearest to the input frame of its own index: none dropped or repeated
    dist = ((got_frames[:, None].astype(np.float32) - frames[None].astype(np.float32)) ** 2).mean(axis=(2, 3, 4))
    assert np.array_equal(dist.argmin(axis=1), np.arange(n_frames))
    # AAC pads the last packet; priming is hidden by the edit list
    assert len(wave) <= len(got_wave) < len(wave) + AAC_FRAME_SAMPLES
    for start in range(0, len(wave) - 400, 5000):
        lo = max(0, start - 1000)
        lag = np.argmax(np.correlate(got_wave[lo:start + 1400], wave[start:start + 400], "valid")) - (start - lo)
        assert lag == 0, f"burst at sample {start} decoded {lag} samples off"


def test_same_input_gives_byte_identical_files(tmp_path):
    frames = np.random.default_rng(1).integers(0, 256, (30, 48, 48, 3), dtype=np.uint8)
    wave = _bursts(30 * 640, every=3000, seed=2)
    a = write_video(tmp_path / "a.mp4", frames, wave).read_bytes()
    b = write_video(tmp_path / "b.mp4", frames, wave).read_bytes()
    c = write_video(tmp_path / "c.mp4", frames, wave).read_bytes()
    assert a == b == c


@pytest.mark.parametrize("frames, wave, message", [
    (np.zeros((5, 33, 32, 3), np.uint8), np.zeros(3200, np.float32), "even"),
    (np.zeros((5, 32, 32), np.uint8), np.zeros(3200, np.float32), "uint8"),
    (np.zeros((0, 32, 32, 3), np.uint8), np.zeros(3200, np.float32), "zero frames"),
    (np.zeros((5, 32, 32, 3), np.uint8), np.zeros((2, 3200), np.float32), "mono"),
])
def test_bad_input_is_a_one_line_error_and_leaves_nothing(tmp_path, frames, wave, message):
    with pytest.raises(AvforgeError, match=message) as info:
        write_video(tmp_path / "bad.mp4", frames, wave)
    assert "bad.mp4" in str(info.value) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_existing_file_survives_a_failed_write(tmp_path):
    path = tmp_path / "keep.mp4"
    write_video(path, _smooth_frames(10), np.zeros(6400, np.float32))
    before = path.read_bytes()
    with pytest.raises(AvforgeError):
        write_video(path, np.zeros((5, 31, 32, 3), np.uint8), np.zeros(3200, np.float32))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.mp4"]
