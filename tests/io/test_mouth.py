"""avforge.io.mouth: fixed and detected mouth boxes, hold and smoothing, crop shapes."""
import cv2
import matplotlib.cbook
import numpy as np
import pytest

from avforge.io import crop_mouth, mouth
from avforge.io.mouth import mouth_boxes, smooth_track


def _face(height=256, width=320, centre=(120, 110), scale=1.0):
    """RGB frame with a drawn frontal face; returns the frame and its mouth centre (x, y)."""
    cx, cy = centre
    s = lambda v: int(round(v * scale))  # noqa: E731
    img = np.full((height, width, 3), (120, 90, 60), np.uint8)
    cv2.ellipse(img, (cx, cy), (s(60), s(80)), 0, 0, 360, (220, 180, 150), -1)
    for dx in (-24, 24):
        cv2.ellipse(img, (cx + s(dx), cy - s(20)), (s(12), s(6)), 0, 0, 360, (255, 255, 255), -1)
        cv2.circle(img, (cx + s(dx), cy - s(20)), s(5), (20, 30, 40), -1)
        cv2.line(img, (cx + s(dx) - s(14), cy - s(35)), (cx + s(dx) + s(14), cy - s(37)), (60, 40, 40), 3)
    cv2.line(img, (cx, cy - s(15)), (cx - s(6), cy + s(15)), (180, 130, 110), 3)
    mouth_xy = (cx, cy + s(40))
    cv2.ellipse(img, mouth_xy, (s(22), s(8)), 0, 0, 360, (160, 60, 60), -1)
    return img, mouth_xy


def test_fixed_crop_takes_the_documented_box():
    rows = np.repeat(np.arange(224, dtype=np.uint8)[:, None], 224, axis=1)  # pixel value = row
    frames = np.repeat(np.stack([rows] * 3, axis=-1)[None], 4, axis=0)
    crops = crop_mouth(frames, "fixed", size=112)
    assert crops.shape == (4, 112, 112) and crops.dtype == np.uint8
    # box rows 0.5325 .. 0.9075 of 224 = 119.3 .. 203.3 (84 rows) resampled to 112 output rows
    assert crops[0, 0, 0] == pytest.approx(119, abs=1) and crops[0, -1, 0] == pytest.approx(203, abs=1)
    assert crop_mouth(frames, "fixed", size=88, gray=False).shape == (4, 88, 88, 3)


def test_detect_centres_on_a_drawn_mouth_off_centre():
    img, (mx, my) = _face(centre=(110, 120))
    boxes = mouth_boxes(np.stack([img] * 3), "detect")
    assert np.abs(boxes[:, 0] - mx).max() < 10 and np.abs(boxes[:, 1] - my).max() < 10
    assert 60 < boxes[0, 2] < 115  # about 1.4 x the 60-px eye-to-mouth distance
    crops = crop_mouth(np.stack([img] * 3), "detect", size=96, gray=False)
    assert crops.shape == (3, 96, 96, 3)
    lips = np.argwhere(np.abs(crops[0].astype(int) - (160, 60, 60)).max(axis=-1) < 25)
    assert len(lips) > 200 and np.abs(lips.mean(axis=0) - 47.5).max() < 8  # lips sit at the centre


def test_haar_fallback_finds_the_same_mouth(monkeypatch):
    photo = cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))[..., ::-1]
    frames = np.ascontiguousarray(photo[None])
    yu = mouth_boxes(frames, "detect")[0]
    monkeypatch.setattr(mouth, "yuface", None)
    haar = mouth_boxes(frames, "detect")[0]
    # two independent detectors agree on the mouth within a tenth of the box
    assert np.abs(yu[:2] - haar[:2]).max() < 0.12 * yu[2]
    assert haar[2] == pytest.approx(yu[2], rel=0.25)


def test_missing_faces_are_bridged_and_no_face_falls_back_to_fixed():
    img, _ = _face()
    blank = np.full_like(img, 90)
    frames = np.stack([blank, img, img, blank, blank, img])
    boxes = mouth_boxes(frames, "detect")
    assert np.allclose(boxes, boxes[1], atol=1.0)  # same face everywhere: held, no jumps
    fixed = mouth_boxes(np.stack([blank] * 3), "fixed")
    np.testing.assert_allclose(mouth_boxes(np.stack([blank] * 3), "detect"), fixed)
    np.testing.assert_allclose(fixed[0], (0.5 * 320, 0.72 * 256, 0.375 * 256))


def test_smooth_track_interpolates_then_averages():
    nan = [np.nan] * 3
    found = np.array([nan, [10, 10, 50], nan, nan, [19, 10, 50], nan], dtype=float)
    filled = smooth_track(found, fallback=np.zeros(3), window=1)
    np.testing.assert_array_equal(filled[:, 0], [10, 10, 13, 16, 19, 19])
    smooth = smooth_track(found, fallback=np.zeros(3), window=3)
    np.testing.assert_allclose(smooth[:, 0], [10, 11, 13, 16, 18, 19])
    np.testing.assert_array_equal(smooth_track(np.full((2, 3), np.nan), np.array([1.0, 2, 3])),
                                  [[1, 2, 3], [1, 2, 3]])


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        crop_mouth(np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(ValueError):
        crop_mouth(np.zeros((2, 8, 8, 3), np.uint8), mode="landmarks")


def test_detect_samples_frames_and_follows_a_moving_face(monkeypatch):
    """Detection runs on every DETECT_EVERY_FRAMES-th frame and the last; a face sliding across
    the frame is tracked in between (interpolated), not held in steps."""
    n = 3 * mouth.DETECT_EVERY_FRAMES + 2
    faces = [_face(centre=(100 + 4 * t, 120)) for t in range(n)]
    calls = []
    real = mouth._detect_yuface

    def counted(frame):
        calls.append(1)
        return real(frame)

    monkeypatch.setattr(mouth, "_detect_yuface", counted)
    boxes = mouth_boxes(np.stack([f for f, _ in faces]), "detect")
    assert len(calls) == 5  # frames 0, 5, 10, 15 and the last (16)
    monkeypatch.setattr(mouth, "DETECT_EVERY_FRAMES", 1)
    every = mouth_boxes(np.stack([f for f, _ in faces]), "detect")  # detecting every frame
    assert len(calls) == 5 + n
    inner = slice(2, n - 2)  # the moving average clamps the ends
    assert np.abs(boxes[inner] - every[inner]).max() < 0.1 * every[:, 2].mean()
    assert np.all(np.diff(boxes[:, 0]) >= 0) and np.diff(boxes[inner, 0]).min() > 2
