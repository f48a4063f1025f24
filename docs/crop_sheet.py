"""Contact sheet of mouth crops from real videos, for a person to look at.

    python docs/crop_sheet.py VIDEO... --out docs/mouth_crops.png [--count 8]

Per video, ``count`` frames spread over it (columns) and four rows: the frame with the four
Auto-AVSR points (eyes, nose tip, mouth centre) and the region its 96 x 96 crop covers; the
``avsr`` crop; the ``detect`` crop; the ``fixed`` crop. Crops come from ``io.mouth.mouth_strip``
(each the middle of a +-6-frame clip, so the smoothing sees context).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from avforge.io.media import read_av
from avforge.io.mouth import mouth_strip
from avforge.io.mouth_avsr import CROP_SIZE, track

CELL, LABEL_W = 128, 110


def frame_cell(path: Path, time_s: float) -> np.ndarray:
    """The frame at ``time_s`` with its four points and the crop's region drawn, CELL px high."""
    clip = read_av(path, max(time_s - 0.24, 0.0), time_s + 0.28, missing_audio="silence")
    middle = min(int(round((time_s - clip.start_s) * 25)), clip.num_frames - 1)
    frame = np.ascontiguousarray(clip.frames[middle])
    found = track(clip.frames)
    if found is not None:
        m = np.vstack([found.transforms[middle], [0, 0, 1]])
        cx, cy = found.mouth_centres()[middle]
        h = CROP_SIZE / 2
        square = np.array([[cx - h, cy - h, 1], [cx + h, cy - h, 1], [cx + h, cy + h, 1], [cx - h, cy + h, 1]])
        corners = (np.linalg.inv(m) @ square.T).T[:, :2]
        cv2.polylines(frame, [corners.round().astype(np.int32)], True, (255, 255, 0), 2)
        for x, y in found.points[middle]:
            cv2.circle(frame, (int(round(x)), int(round(y))), 3, (255, 0, 0), -1)
    scale = CELL / frame.shape[0]
    return cv2.resize(frame, (int(round(frame.shape[1] * scale)), CELL), interpolation=cv2.INTER_AREA)


def label(text: str, height: int) -> np.ndarray:
    cell = np.full((height, LABEL_W, 3), 255, np.uint8)
    cv2.putText(cell, text, (6, height // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return cell


def video_block(path: Path, count: int) -> np.ndarray:
    strips = {mode: mouth_strip(path, mode, count) for mode in ("avsr", "detect", "fixed")}
    frames = [frame_cell(path, t) for t, _ in strips["avsr"]]
    width = max(f.shape[1] for f in frames)
    rows = [np.hstack([label(path.name[:16], CELL)] + [cv2.copyMakeBorder(
        f, 0, 0, 0, width - f.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255)) for f in frames])]
    for mode, samples in strips.items():
        crops = [cv2.copyMakeBorder(cv2.cvtColor(cv2.resize(c, (CELL, CELL)), cv2.COLOR_GRAY2RGB), 0, 0, 0,
                                    width - CELL, cv2.BORDER_CONSTANT, value=(255, 255, 255)) for _, c in samples]
        rows.append(np.hstack([label(mode, CELL)] + crops))
    return np.vstack([np.vstack([r, np.full((4, r.shape[1], 3), 255, np.uint8)]) for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=8)
    args = parser.parse_args()
    blocks = [video_block(v, args.count) for v in args.videos]
    width = max(b.shape[1] for b in blocks)
    sheet = np.vstack([cv2.copyMakeBorder(b, 0, 12, 0, width - b.shape[1], cv2.BORDER_CONSTANT,
                                          value=(255, 255, 255)) for b in blocks])
    cv2.imwrite(str(args.out), sheet[..., ::-1])
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
