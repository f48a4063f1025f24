"""Shared by the report tests: small real videos, report data for them, and a headless Chromium."""
from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from avforge.core.types import Proposals, VideoRecord
from avforge.engine.html_report import ReportVideo
from avforge.io.writer import write_video

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
FPS, SIZE = 25, 64


def face_frames(n: int) -> np.ndarray:
    """A gray face whose mouth opens and closes twice a second."""
    frames = np.full((n, SIZE, SIZE, 3), 150, np.uint8)
    for i in range(n):
        h = 1 + int(6 * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * i / FPS)))
        frames[i, 46 - h:46 + h, 22:42] = 30
    return frames


def talking_video(path: Path, seconds: float) -> Path:
    n = int(seconds * FPS)
    wave = 0.3 * np.sin(2 * np.pi * 220 * np.arange(n * 640) / 16000) * np.repeat(np.arange(n) % 25 < 15, 640)
    return write_video(path, face_frames(n), wave.astype(np.float32))


def silent_video(path: Path, seconds: float) -> Path:
    """H.264 without an audio stream."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height, stream.pix_fmt = SIZE, SIZE, "yuv420p"
        for img in face_frames(int(seconds * FPS)):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode())
    return path


def curves(n: int, peak_s: float, seed: int = 0) -> dict[str, np.ndarray]:
    """fused / audio / visual p(fake) rising around ``peak_s``, plus an extra "sync" curve."""
    t = np.arange(n) / FPS
    bump = np.exp(-((t - peak_s) / 0.5) ** 2)
    noise = np.random.default_rng(seed).random((3, n)) * 0.05
    return {"fused": 0.05 + 0.9 * bump, "audio": 0.05 + 0.8 * bump + noise[0], "visual": 0.1 + 0.3 * bump + noise[1],
            "sync": 0.9 - 0.7 * bump + noise[2]}


def report_video(path: Path, seconds: float, *, segments: bool = True, has_audio: bool = True,
                 truth: bool = False) -> ReportVideo:
    n = int(seconds * FPS)
    p = (Proposals(np.array([0.9, 0.45, 0.2]), np.array([1.6, 2.8, 0.4]), np.array([2.4, 3.2, 0.8]),
                   ("audio", "visual", "both")) if segments else Proposals(np.zeros(0), np.zeros(0), np.zeros(0), ()))
    record = VideoRecord(file=path.name, split="test", modify_type="audio_modified", fake_segments=((1.8, 2.4),),
                         audio_fake_segments=((1.8, 2.4),), duration_s=seconds) if truth else None
    return ReportVideo(path.name, path, seconds, 0.8 if segments else 0.1, has_audio, curves(n, 2.0), p, truth=record)


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium driven by Playwright; skips when either is missing."""
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (apt-get install chromium): browser tests skipped")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install -e .[dev])")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def open_page(browser, path: Path, width: int = 1280):
    """(page, messages): the report loaded, with every console error and page error collected."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    messages = []
    page.on("console", lambda m: messages.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: messages.append(f"page error: {e}"))
    page.goto(path.resolve().as_uri())
    page.wait_for_function("window.avforgeReport !== undefined", timeout=10000)
    return page, messages
