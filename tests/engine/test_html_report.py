"""HTML report data: compact curves, ground-truth matching, video sources, index pages, the cap rule."""
import base64
import json
import re

import numpy as np
import pytest
from report_pages import report_video, talking_video

from avforge.core.types import Proposals, VideoRecord
from avforge.engine import html_report
from avforge.engine.html_report import decode_curves, encode_curves, truth_matches, write_reports
from avforge.postprocess import PostprocessConfig


def page_json(path):
    text = path.read_text(encoding="utf-8")
    return json.loads(re.search(r'<script type="application/json" id="avforge-data">(.*?)</script>', text, re.S)[1])


def test_curves_round_trip_within_half_a_step_and_clip():
    values = {"fused": np.array([0.0, 0.2, 0.5001, 1.0]), "sync": np.array([-0.3, 1.7, 0.333, 0.999])}
    back = decode_curves(encode_curves(values))
    assert np.abs(back["fused"] - values["fused"]).max() <= 0.5 / 255 + 1e-7
    assert back["sync"].tolist() == pytest.approx([0.0, 1.0, 85 / 255, 1.0])
    assert len(base64.b64decode(encode_curves({"a": np.zeros(90_000)})["a"])) == 90_000  # one byte per frame


def test_truth_matches_give_best_prediction_and_iou():
    truth = VideoRecord(file="v.mp4", split="test", modify_type="both_modified", fake_segments=((1.0, 2.0), (5.0, 6.0)),
                        audio_fake_segments=((1.0, 2.0),), visual_fake_segments=((1.0, 2.0), (5.0, 6.0)), duration_s=8)
    p = Proposals(np.array([0.9, 0.8, 0.1, 0.05]), np.array([1.5, 4.0, 0.0, 1.0]), np.array([2.0, 5.5, 8.0, 2.0]))
    rows, per_pred = truth_matches(truth, p)
    # (1, 2): the best-scoring prediction with IoU >= 0.5 (#0), not the exact but weaker #3;
    # (5, 6): none reaches 0.5, so the highest IoU (#1: 0.5 s of 2 s)
    assert [(r["modality"], r["match"]) for r in rows] == [("both", 0), ("visual", 1)]
    assert rows[0]["iou"] == pytest.approx(0.5) and rows[1]["iou"] == pytest.approx(0.5 / 2.0)
    assert per_pred == pytest.approx([0.5, 0.25, 1 / 8, 1.0])
    rows, per_pred = truth_matches(truth, Proposals(np.zeros(0), np.zeros(0), np.zeros(0)))
    assert [r["match"] for r in rows] == [None, None] and per_pred == []


def test_page_refers_to_the_video_or_embeds_it_under_the_limit(tmp_path, monkeypatch):
    video = talking_video(tmp_path / "media" / "a b.mp4", 2.0)
    page = write_reports(tmp_path / "out" / "r.html", [report_video(video, 2.0)], {})[0]
    data = page_json(page)
    assert data["video"]["src"] == "../media/a%20b.mp4" and data["notes"] == []
    assert len(data["crops"]) == 3 and all(len(c["jpeg"]) == 8 for c in data["crops"].values())
    assert data["audio_peaks"] and len(base64.b64decode(data["audio_peaks"])) == 50
    embedded = page_json(write_reports(tmp_path / "e.html", [report_video(video, 2.0)], {}, embed=True)[0])
    assert base64.b64decode(embedded["video"]["src"].split(",", 1)[1]) == video.read_bytes()
    monkeypatch.setattr(html_report, "EMBED_LIMIT_BYTES", video.stat().st_size - 1)
    over = page_json(write_reports(tmp_path / "o.html", [report_video(video, 2.0)], {}, embed=True)[0])
    assert over["video"]["src"] == "media/a%20b.mp4" and "embedding limit" in over["notes"][0]


def test_missing_video_and_script_in_a_name_still_make_a_page(tmp_path):
    video = report_video(tmp_path / "gone.mp4", 2.0)
    video.file = "</script><b>.mp4"
    data = page_json(write_reports(tmp_path / "r.html", [video], {})[0])
    assert data["file"] == "</script><b>.mp4" and data["video"]["src"] == ""
    assert "not found" in data["notes"][0] and data["crops"] == {}


def test_index_lists_videos_by_fake_score(tmp_path):
    videos = [report_video(tmp_path / f"{name}.mp4", 2.0) for name in ("low", "high")]
    videos[0].video_score, videos[1].video_score = 0.2, 0.95
    videos[1].file = "sub/high.mp4"
    written = write_reports(tmp_path / "all.html", videos, {}, errors={"bad.mp4": "bad.mp4: not a video file"})
    assert [p.relative_to(tmp_path).as_posix() for p in written] == ["all.html", "all/low.mp4.html",
                                                                     "all/sub__high.mp4.html"]
    index = written[0].read_text(encoding="utf-8")
    assert re.findall(r'href="([^"]+)"', index) == ["all/sub__high.mp4.html", "all/low.mp4.html"]
    assert "bad.mp4: not a video file" in index


@pytest.mark.parametrize("duration_s, caps", [(10.0, (2000, 100)), (60.0, (2000, 100)), (61.0, (4000, 200)),
                                              (3600.0, (120_000, 6000))])
def test_caps_grow_per_started_minute(duration_s, caps):
    cfg = PostprocessConfig().for_duration(duration_s)
    assert (cfg.pre_topk, cfg.max_proposals) == caps
    assert PostprocessConfig(max_proposals=0).for_duration(3600.0).max_proposals == 0  # 0 stays "all"
