"""A second talking-face renderer: a real face photograph whose jaw and lips are warped per frame.

The drawn renderer (``face.py``) paints every face from ellipses; a detector trained and tested
only on it may learn how that renderer draws a mouth. This one animates a photograph instead
(matplotlib's bundled portrait of Grace Hopper, a dependency already installed, or the portraits given
as ``SynthConfig.portraits`` / ``avforge synth --portrait``, one per speaker in turn: other faces): yuface finds the
eyes and mouth corners once, and each frame is the photo with the chin and lower lip pulled down
by the mouth's openness, the lips stretched by its width, and a dark mouth interior with teeth
painted into the gap. Same ``render`` / ``mouth_box_in_frame`` interface and the same per-clip
``Scene`` (head motion, lighting, sensor noise; a photo does not blink), so real and forged
variants of a clip differ only where they were forged.

Per speaker a ``PhotoIdentity`` changes the framing (face size and position in the frame, which
moves the mouth away from where the fixed crop box expects it), mirror image, colour and gamma,
and how far the jaw travels: one face, many recordings, never the drawn renderer's geometry.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from avforge.core.errors import AvforgeError
from avforge.data.synthetic.face import Scene, ellipse_coverage, noise_bank
from avforge.io import faces

PHOTO_NAME = "grace_hopper.jpg"  # matplotlib's sample data


@functools.lru_cache(maxsize=16)
def load_portrait(path: str = "") -> tuple[np.ndarray, np.ndarray]:
    """The portrait at ``path`` ("" = matplotlib's sample) as (H, W, 3) float32 RGB in 0..1, and its
    five face points (5, 2) x, y: eyes, nose, mouth corners."""
    if not path:
        import matplotlib.cbook

        path = str(matplotlib.cbook.get_sample_data(PHOTO_NAME, asfileobj=False))
    bgr = cv2.imread(path)
    if bgr is None:
        raise AvforgeError("cannot read the portrait (not an image file cv2 can decode)", path=path)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if faces.yuface is None:
        raise AvforgeError("the photo renderer needs the yuface face detector (pip install yuface==2023.5.1)")
    points = faces.face_points(rgb)
    if points is None:
        raise AvforgeError("no face found in the portrait", path=path)
    return rgb.astype(np.float32) / 255.0, points


@dataclass(frozen=True)
class PhotoIdentity:
    """How one speaker's recordings frame and colour the photograph."""

    mirror: bool
    face_frac: float  # eye distance as a fraction of the frame side
    center_dx: float  # face centre offset from the frame centre, fraction of the frame (x)
    center_dy: float  # same (y); positive moves the face down
    color_gain: tuple[float, float, float]
    gamma: float
    jaw: float  # jaw travel at full openness, fraction of the mouth width
    portrait: str = ""  # the face photo ("" = matplotlib's sample portrait)

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "PhotoIdentity":
        return cls(bool(rng.integers(2)), float(rng.uniform(0.22, 0.32)), float(rng.uniform(-0.06, 0.06)),
                   float(rng.uniform(-0.06, 0.12)), tuple(rng.uniform(0.85, 1.15, 3).tolist()),
                   float(rng.uniform(0.8, 1.25)), float(rng.uniform(0.35, 0.55)))


class PhotoFaceRenderer:
    """Renders (T, size, size, 3) uint8 frames of the warped photograph from per-frame mouth shapes."""

    def __init__(self, identity: PhotoIdentity, size: int = 96, seed: int = 0):
        self.identity, self.size = identity, size
        self.margin = max(4, size // 16)
        self.canvas_size = size + 2 * self.margin
        self.work = 2  # warp at twice the output resolution, then area-downsample
        self.base, self.mouth_xy, self.mouth_half_w = self._frame_photo()
        self._box = self._warp_box()
        self._grid = np.mgrid[self._box[0], self._box[1]].astype(np.float32)  # (2, h, w) y, x
        self._noise = noise_bank(seed, size)

    def _frame_photo(self) -> tuple[np.ndarray, np.ndarray, float]:
        """The photo scaled, placed and coloured on the work canvas; mouth centre and half width there."""
        ident = self.identity
        photo, points = load_portrait(ident.portrait)
        if ident.mirror:
            photo = photo[:, ::-1]
            points = points.copy()
            points[:, 0] = photo.shape[1] - 1 - points[:, 0]
        n = self.canvas_size * self.work
        side = self.size * self.work
        eye_l, eye_r = points[0], points[1]
        scale = ident.face_frac * side / np.linalg.norm(eye_r - eye_l)
        face_c = (eye_l + eye_r + points[3] + points[4]) / 4  # between eyes and mouth
        target = np.array([n / 2 + ident.center_dx * side, n / 2 + ident.center_dy * side])
        shift = target - scale * face_c
        affine = np.array([[scale, 0, shift[0]], [0, scale, shift[1]]], np.float32)
        canvas = cv2.warpAffine(photo, affine, (n, n), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT)
        canvas = np.clip(canvas * np.asarray(ident.color_gain, np.float32), 0, 1) ** ident.gamma
        mouth = (points[3] + points[4]) / 2 * scale + shift
        half_w = float(np.linalg.norm(points[4] - points[3]) / 2 * scale)
        return canvas.astype(np.float32), mouth.astype(np.float32), half_w

    def _warp_box(self) -> tuple[slice, slice]:
        """Rows and columns of the work canvas that the jaw and lips can move (the rest is the photo)."""
        n = self.base.shape[0]
        mx, my = self.mouth_xy
        hw = self.mouth_half_w
        rows = slice(max(0, int(my - 1.0 * hw)), min(n, int(np.ceil(my + 3.8 * hw))))
        cols = slice(max(0, int(mx - 3.5 * hw)), min(n, int(np.ceil(mx + 3.5 * hw))))
        return rows, cols

    def _warp(self, openness: float, width: float) -> np.ndarray:
        """One work-canvas frame with the jaw dropped by ``openness`` and the lips at ``width``."""
        mx, my = self.mouth_xy
        hw = self.mouth_half_w
        drop = self.identity.jaw * 2 * hw * openness
        rows, cols = self._box
        y, x = self._grid
        across = np.exp(-((x - mx) / (1.5 * hw)) ** 2)  # the jaw moves, the cheeks far out do not
        below = np.clip((y - my) / (0.12 * hw) + 0.5, 0, 1) * np.clip(1 - (y - my - 2.4 * hw) / (1.2 * hw), 0, 1)
        above = np.clip((my - y) / (0.12 * hw) + 0.5, 0, 1) * np.clip(1 - (my - y) / (0.7 * hw), 0, 1)
        dy = drop * across * below - 0.15 * drop * across * above
        stretch = 1 + 0.3 * (width - 0.5) * np.exp(-((x - mx) / (1.6 * hw)) ** 2 - ((y - my) / (0.9 * hw)) ** 2)
        frame = self.base.copy()
        box = cv2.remap(self.base, mx + (x - mx) / stretch, y - dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if drop > 0.5:
            gap = 0.8 * drop
            cy = my + 0.425 * drop
            inner = ellipse_coverage(y, x, cy, mx, gap / 2, 0.8 * hw * (1 + 0.3 * (width - 0.5)))[..., None]
            teeth = (y < cy - 0.2 * gap)[..., None]
            light = float(self.base[int(my), int(mx)].mean())
            interior = np.where(teeth, 0.8 * light + 0.15, np.array([0.22, 0.06, 0.07], np.float32) * (0.5 + light))
            box = box * (1 - inner) + interior * inner
        frame[rows, cols] = box
        return frame

    def render(self, scene: Scene, openness: np.ndarray, width: np.ndarray) -> np.ndarray:
        """(T, size, size, 3) uint8 frames."""
        s, m, k = self.size, self.margin, self.work
        frames = np.empty((len(openness), s, s, 3), np.float32)
        for i, (o, w, (dy, dx)) in enumerate(zip(openness, width, scene.shift_px)):
            big = self._warp(float(o), float(w))[(m + dy) * k:(m + dy + s) * k, (m + dx) * k:(m + dx + s) * k]
            frames[i] = cv2.resize(big, (s, s), interpolation=cv2.INTER_AREA)
        ramp = np.linspace(-1, 1, s, dtype=np.float32)
        light = scene.gain[:, None] * (1 + scene.light_tilt[:, None] * ramp)
        frames *= 255.0 * light[:, None, :, None]
        frames += scene.noise_sigma * self._noise[scene.noise_idx]
        return np.clip(frames, 0, 255).astype(np.uint8)

    def moving_box_in_frame(self) -> tuple[int, int, int, int]:
        """(y0, y1, x0, x1) in frame pixels, without head motion, outside which no frame changes."""
        rows, cols = self._box
        k, m = self.work, self.margin
        return (max(0, rows.start // k - m), min(self.size, -(-rows.stop // k) - m),
                max(0, cols.start // k - m), min(self.size, -(-cols.stop // k) - m))

    def mouth_box_in_frame(self, shift_px) -> tuple[int, int, int, int]:
        """(y0, y1, x0, x1) of the mouth box in frame pixels for one frame's head shift."""
        mx, my = self.mouth_xy / self.work - self.margin
        hw = self.mouth_half_w / self.work
        dy, dx = int(shift_px[0]), int(shift_px[1])
        y0, y1, x0, x1 = my - 0.9 * hw - dy, my + 1.6 * hw - dy, mx - 1.5 * hw - dx, mx + 1.5 * hw - dx
        return (max(0, int(y0)), min(self.size, int(y1)), max(0, int(x0)), min(self.size, int(x1)))
