"""The HTML report of a 1-hour video: page size, write time, and load / draw / seek times in Chromium.

    python benchmarks/report_long.py [--hours 1] [--segments 6000] [--screenshot docs/report_long.png]

The video is bench_io's generated 96x96 H.264 + AAC file (cached, made once); its per-frame
curves (fused, audio, visual and an extra "sync") and ``--segments`` proposals (the cap the
per-minute rule gives an hour) are synthesised, so no hour of inference is needed. The page is
written by ``html_report.write_reports`` exactly as ``avforge infer --html`` writes it (audio
loudness read from the file, mouth crops for the 20 best segments). Headless Chromium then
loads it from disk; times come from the page's own clock (``performance.now()``).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_io import CACHE, write_clip
from playwright.sync_api import sync_playwright

from avforge.core.types import Proposals
from avforge.engine.html_report import ReportVideo, write_reports

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def synthetic_video(path: Path, hours: float, n_segments: int, seed: int = 0) -> ReportVideo:
    rng = np.random.default_rng(seed)
    n = int(hours * 3600 * 25)
    starts = np.sort(rng.uniform(0, hours * 3600 - 5, n_segments))
    ends = starts + rng.uniform(0.2, 4.0, n_segments)
    scores = rng.beta(0.6, 2.0, n_segments)
    fused = 0.05 * rng.random(n)
    for s, e, p in zip(starts, ends, scores):
        fused[int(s * 25):int(e * 25)] = np.maximum(fused[int(s * 25):int(e * 25)], p)
    curves = {"fused": fused, "audio": np.clip(fused * rng.uniform(0.3, 1.0, n), 0, 1),
              "visual": np.clip(fused * rng.uniform(0.3, 1.0, n), 0, 1), "sync": 1 - 0.8 * fused}
    mods = tuple(rng.choice(["audio", "visual", "both"], n_segments))
    return ReportVideo("long_1h.mp4", path, n / 25, 0.97, True, curves, Proposals(scores, starts, ends, mods).sorted())


def measure(page_path: Path, screenshot: Path | None) -> dict:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        wall = time.perf_counter()
        page.goto(page_path.resolve().as_uri())
        page.wait_for_function("window.avforgeReport && document.getElementById('video').readyState >= 1",
                               timeout=60000)
        out = {"load_wall_s": time.perf_counter() - wall, "ready_ms": page.evaluate("avforgeReport.readyMs")}
        out["draw_full_ms"], out["draw_1min_ms"] = page.evaluate("""(() => {
            const r = avforgeReport, d = 1e9, time = (f) => { const t = performance.now();
              for (let i = 0; i < 10; i++) f(); return (performance.now() - t) / 10; };
            return [time(() => r.setView(0, d)), time(() => r.setView(1800, 60))]; })()""")
        out["filter_ms"] = page.evaluate("""(() => { const el = document.getElementById('f-score');
            const t = performance.now(); el.value = '0.5'; el.dispatchEvent(new Event('input'));
            el.value = '0'; el.dispatchEvent(new Event('input')); return (performance.now() - t) / 2; })()""")
        page.evaluate("""(() => { window._lat = []; const v = document.getElementById('video');
            document.getElementById('timeline').addEventListener('click', () => { window._t0 = performance.now(); }, true);
            v.addEventListener('seeked', () => window._lat.push(performance.now() - window._t0)); })()""")
        misses = []
        for i in range(0, 200, 20):  # click the bands of 10 segments, each in a 1-minute view around it
            page.evaluate(f"avforgeReport.setView(avforgeReport.segments[{i}].start - 30, 60)")
            centre = page.evaluate(f"avforgeReport.bandCenter({i})")
            page.mouse.click(centre["x"], centre["y"])
            page.wait_for_function(f"window._lat.length >= {len(misses) + 1}", timeout=10000)
            start = page.evaluate(f"avforgeReport.segments[{i}].start")
            misses.append(abs(page.evaluate("document.getElementById('video').currentTime") - start))
        lat = page.evaluate("window._lat")
        out.update(seek_ms_median=statistics.median(lat), seek_ms_max=max(lat), seek_error_s_max=max(misses),
                   js_heap_mb=page.evaluate("performance.memory.usedJSHeapSize") / 2**20, console_errors=errors)
        if screenshot:
            page.evaluate("avforgeReport.select(3, true); avforgeReport.setView(avforgeReport.segments[3].start - 30, 60)")
            page.wait_for_timeout(500)
            page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--segments", type=int, default=6000)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    video = write_clip(CACHE / f"long_{args.hours:g}h_96px.mp4", args.hours * 3600, 96, seed=99)
    report = synthetic_video(video, args.hours, args.segments)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "long.html"
        t = time.perf_counter()
        write_reports(page, [report], {"note": "synthetic curves"})
        write_s = time.perf_counter() - t
        print(f"{args.hours:g} h video, {len(report.curves['fused'])} frames x {len(report.curves)} curves, "
              f"{args.segments} segments: page {page.stat().st_size / 2**20:.2f} MiB written in {write_s:.1f} s")
        for key, value in measure(page, args.screenshot).items():
            print(f"  {key}: {value:.1f}" if isinstance(value, float) else f"  {key}: {value}")


if __name__ == "__main__":
    main()
