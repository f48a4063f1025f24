"""A fast vectorised talking-face renderer.

Per speaker a ``FaceIdentity`` (skin tone, face shape, hair, lips, background) is drawn once
into a base canvas slightly larger than the frame; per clip a ``Scene`` (head motion, blinks,
lighting, sensor noise) is sampled once and shared by the real clip and its fake variants,
so variants differ only where they were forged. The mouth sits in the lower centre of the
frame (centre at 50 % width, 72 % height) and is drawn per frame from (openness, width).
Drawn with numpy rather than cv2.ellipse: the mouths of all T frames are one vectorised pass
of antialiased ellipses over a small box, where OpenCV would draw frame by frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MOUTH_CENTER_FRAC = (0.72, 0.5)  # (y, x) as fractions of the frame
_SKIN_TONES = np.array([[0.96, 0.80, 0.69], [0.90, 0.72, 0.58], [0.80, 0.60, 0.45],
                        [0.65, 0.46, 0.33], [0.48, 0.33, 0.24], [0.36, 0.25, 0.18]], np.float32)
NOISE_BANK_FRAMES = 32


@dataclass(frozen=True)
class FaceIdentity:
    """What makes one synthetic speaker look like themselves."""

    skin: tuple[float, float, float]
    lip: tuple[float, float, float]
    hair: tuple[float, float, float]
    background: tuple[float, float, float]
    face_w: float  # half-width, fraction of frame
    face_h: float  # half-height, fraction of frame
    chin: float  # 0 round .. 1 pointed
    eye_dx: float  # eye offset from centre, fraction of frame
    eye_size: float  # fraction of frame
    mouth_w: float  # neutral mouth half-width, fraction of frame
    lip_px: float  # lip thickness at 96 px

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "FaceIdentity":
        skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.92, 1.06, 3)
        lip = skin * np.array([0.85, 0.55, 0.55]) * rng.uniform(0.85, 1.05)
        return cls(tuple(np.clip(skin, 0, 1).tolist()), tuple(np.clip(lip, 0, 1).tolist()),
                   tuple(rng.uniform(0.02, 0.5, 3).tolist()), tuple(rng.uniform(0.1, 0.9, 3).tolist()),
                   float(rng.uniform(0.30, 0.38)), float(rng.uniform(0.40, 0.47)), float(rng.uniform(0, 1)),
                   float(rng.uniform(0.12, 0.16)), float(rng.uniform(0.045, 0.06)),
                   float(rng.uniform(0.11, 0.15)), float(rng.uniform(2.0, 3.5)))


@dataclass(frozen=True)
class Scene:
    """Everything per clip that is not the mouth: shared by a clip's real and fake variants."""

    shift_px: np.ndarray  # (T, 2) int head translation (dy, dx)
    blink: np.ndarray  # (T,) eyelid closure 0..1
    gain: np.ndarray  # (T,) global brightness
    light_tilt: np.ndarray  # (T,) left-right lighting gradient
    noise_idx: np.ndarray  # (T,) frame of the noise bank per frame
    noise_sigma: float  # sensor noise in 0..255 units

    @classmethod
    def sample(cls, rng: np.random.Generator, n_frames: int, difficulty: float, margin_px: int) -> "Scene":
        t = np.arange(n_frames) / 25.0
        amp = min(margin_px, 1.5 + 3.0 * difficulty)
        shift = np.zeros((n_frames, 2))
        for axis in range(2):
            for _ in range(3):
                shift[:, axis] += amp / 3 * np.sin(2 * np.pi * rng.uniform(0.05, 0.6) * t + rng.uniform(0, 6.3))
        blink = np.zeros(n_frames, np.float32)
        start = rng.uniform(0.3, 2.0)
        while start < t[-1] if n_frames else False:
            i = int(start * 25)
            blink[i:i + 4] = np.array([0.5, 1.0, 1.0, 0.5])[: len(blink[i:i + 4])]
            start += rng.uniform(1.5, 5.0)
        gain = 1.0 + 0.12 * np.sin(2 * np.pi * rng.uniform(0.02, 0.2) * t + rng.uniform(0, 6.3)) * (0.5 + difficulty)
        tilt = rng.uniform(-0.15, 0.15) + 0.1 * np.sin(2 * np.pi * rng.uniform(0.02, 0.15) * t + rng.uniform(0, 6.3))
        return cls(np.clip(np.round(shift), -margin_px, margin_px).astype(int), blink,
                   gain.astype(np.float32), tilt.astype(np.float32),
                   rng.integers(0, NOISE_BANK_FRAMES, n_frames), 2.0 + 6.0 * difficulty)


def ellipse_coverage(y, x, cy, cx, ry, rx):
    """Antialiased ellipse coverage 0..1 on coordinate grids (broadcasts over leading axes)."""
    r = np.sqrt(((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2)
    return np.clip((1.0 - r) * np.minimum(ry, rx) + 0.5, 0.0, 1.0)


def noise_bank(seed: int, size: int) -> np.ndarray:
    """(NOISE_BANK_FRAMES, size, size, 3) float32 unit Gaussian sensor noise that Scene.noise_idx picks from."""
    return np.random.default_rng(seed).standard_normal((NOISE_BANK_FRAMES, size, size, 3)).astype(np.float32)


class FaceRenderer:
    """Renders (T, size, size, 3) uint8 frames of one identity from per-frame mouth shapes."""

    def __init__(self, identity: FaceIdentity, size: int = 96, seed: int = 0):
        self.identity, self.size = identity, size
        self.margin = max(4, size // 16)
        self.canvas_size = size + 2 * self.margin
        self.scale = size / 96.0
        self.base, self.closed_eyes = self._draw_base()
        cy, cx = (self.margin + f * size for f in MOUTH_CENTER_FRAC)
        half_h, half_w = int(0.14 * size), int(0.22 * size)
        self.mouth_box = (int(cy) - half_h, int(cy) + half_h, int(cx) - half_w, int(cx) + half_w)
        y0, y1, x0, x1 = self.mouth_box
        self._my, self._mx = np.mgrid[y0:y1, x0:x1].astype(np.float32) - np.array([cy, cx], np.float32)[:, None, None]
        self._noise = noise_bank(seed, size)

    def _draw_base(self) -> tuple[np.ndarray, np.ndarray]:
        """(Hc, Wc, 3) float32 face without mouth, and the same face with closed eyes."""
        ident, n, s = self.identity, self.canvas_size, self.size
        y, x = np.mgrid[0:n, 0:n].astype(np.float32)
        c = n / 2.0
        img = np.empty((n, n, 3), np.float32)
        img[:] = np.asarray(ident.background) * (0.8 + 0.4 * y[..., None] / n)
        hair = ellipse_coverage(y, x, c - 0.12 * s, c, (ident.face_h + 0.06) * s, (ident.face_w + 0.06) * s)
        img = img * (1 - hair[..., None]) + np.asarray(ident.hair) * hair[..., None]
        # chin narrows the lower half of the face ellipse
        rx = ident.face_w * s * (1 - ident.chin * 0.35 * np.clip((y - c) / (ident.face_h * s), 0, 1))
        face = ellipse_coverage(y, x, c + 0.04 * s, c, ident.face_h * s, rx)
        shade = 1.0 - 0.25 * ((x - c) / (ident.face_w * s)) ** 2  # rounded look
        skin = np.asarray(ident.skin) * shade[..., None]
        img = img * (1 - face[..., None]) + skin * face[..., None]
        nose = ellipse_coverage(y, x, c + 0.08 * s, c, 0.07 * s, 0.03 * s)
        img *= (1 - 0.18 * nose)[..., None]
        closed = img.copy()
        for side in (-1, 1):
            ex, ey = c + side * ident.eye_dx * s, c - 0.05 * s
            white = ellipse_coverage(y, x, ey, ex, ident.eye_size * 0.6 * s, ident.eye_size * s)
            iris = ellipse_coverage(y, x, ey, ex, ident.eye_size * 0.55 * s, ident.eye_size * 0.55 * s)
            brow = ellipse_coverage(y, x, ey - 0.07 * s, ex, 0.012 * s + 0.8, ident.eye_size * 1.2 * s)
            img = img * (1 - white[..., None]) + 0.92 * white[..., None]
            img = img * (1 - iris[..., None]) + np.array([0.2, 0.15, 0.1]) * iris[..., None]
            lid = ellipse_coverage(y, x, ey, ex, 0.01 * s + 0.7, ident.eye_size * s)
            closed = closed * (1 - lid[..., None]) + np.asarray(ident.skin) * 0.6 * lid[..., None]
            for canvas in (img, closed):
                canvas *= (1 - 0.7 * brow)[..., None]
        return img.astype(np.float32), closed.astype(np.float32)

    def _mouths(self, openness: np.ndarray, width: np.ndarray) -> np.ndarray:
        """(T, h, w, 3) float mouth boxes drawn over the skin of the base canvas."""
        ident, s = self.identity, self.size
        y0, y1, x0, x1 = self.mouth_box
        skin = self.base[y0:y1, x0:x1]
        half_w = (ident.mouth_w * s * (0.75 + 0.45 * width))[:, None, None]  # (T, 1, 1)
        gap = (0.11 * s * openness)[:, None, None]
        lip = ident.lip_px * self.scale
        outer = ellipse_coverage(self._my, self._mx, 0.0, 0.0, gap / 2 + lip, half_w)
        inner = ellipse_coverage(self._my, self._mx, 0.0, 0.0, np.maximum(gap / 2, 1e-3), half_w * 0.85)
        inner *= np.clip(gap * 1.5, 0, 1)  # a closed mouth shows no interior
        teeth = (self._my < -gap / 2 + 0.25 * gap).astype(np.float32)
        interior = np.array([0.25, 0.05, 0.07], np.float32) * (1 - teeth[..., None]) + 0.85 * teeth[..., None]
        out = skin * (1 - outer[..., None]) + np.asarray(ident.lip, np.float32) * outer[..., None]
        return out * (1 - inner[..., None]) + interior * inner[..., None]

    def render(self, scene: Scene, openness: np.ndarray, width: np.ndarray) -> np.ndarray:
        """(T, size, size, 3) uint8 frames."""
        n_frames, s, m = len(openness), self.size, self.margin
        canvas = np.broadcast_to(self.base, (n_frames,) + self.base.shape).copy()
        blinking = np.flatnonzero(scene.blink > 0)
        a = scene.blink[blinking][:, None, None, None]
        canvas[blinking] = self.base * (1 - a) + self.closed_eyes * a
        y0, y1, x0, x1 = self.mouth_box
        canvas[:, y0:y1, x0:x1] = self._mouths(openness.astype(np.float32), width.astype(np.float32))
        frames = np.empty((n_frames, s, s, 3), np.float32)
        for i, (dy, dx) in enumerate(scene.shift_px):
            frames[i] = canvas[i, m + dy:m + dy + s, m + dx:m + dx + s]
        ramp = np.linspace(-1, 1, s, dtype=np.float32)
        light = scene.gain[:, None] * (1 + scene.light_tilt[:, None] * ramp)  # (T, W)
        frames *= 255.0 * light[:, None, :, None]
        frames += scene.noise_sigma * self._noise[scene.noise_idx]
        return np.clip(frames, 0, 255).astype(np.uint8)

    def mouth_box_in_frame(self, shift_px) -> tuple[int, int, int, int]:
        """(y0, y1, x0, x1) of the mouth box in frame pixels for one frame's head shift."""
        y0, y1, x0, x1 = self.mouth_box
        dy, dx = int(shift_px[0]) + self.margin, int(shift_px[1]) + self.margin
        return (max(0, y0 - dy), min(self.size, y1 - dy), max(0, x0 - dx), min(self.size, x1 - dx))


def apply_mouth_artefacts(frames: np.ndarray, renderer: FaceRenderer, scene: Scene, frame_mask: np.ndarray,
                          strength: float, rng: np.random.Generator) -> None:
    """In place: generator-like blur and colour shift of the mouth, feathered into the face, in masked frames."""
    sigma = 0.6 + 1.6 * strength
    tint = 1.0 + strength * rng.uniform(0.04, 0.10) * rng.choice([-1, 1], 3)
    for i in np.flatnonzero(frame_mask):
        y0, y1, x0, x1 = renderer.mouth_box_in_frame(scene.shift_px[i])
        box = frames[i, y0:y1, x0:x1].astype(np.float32)
        h, w = box.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        feather = np.clip(1.6 * (1 - np.sqrt(((yy - h / 2) / (h / 2)) ** 2 + ((xx - w / 2) / (w / 2)) ** 2)), 0, 1)
        fake = cv2.GaussianBlur(box, (0, 0), sigma) * tint
        box += (fake - box) * feather[..., None]
        frames[i, y0:y1, x0:x1] = np.clip(box, 0, 255).astype(np.uint8)
