"""The synthetic benchmark: deterministic, loadable in both real layouts, labels match the media."""
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from avforge.cli.main import main
from avforge.core.errors import AvforgeError
from avforge.core.timegrid import VIDEO_GRID
from avforge.core.types import ModifyType
from avforge.data.avdeepfake1m import load_avdeepfake1m
from avforge.data.lavdf import load_lavdf
from avforge.data.synthetic.generate import SynthConfig, generate
from avforge.data.synthetic.speech import SAMPLE_RATE, Voice, synthesize
from avforge.data.synthetic.visemes import viseme_of, viseme_tracks
from avforge.io import crop_mouth, read_av

SMALL = dict(min_duration_s=2.0, max_duration_s=3.0, groups_per_speaker=1)
LAVDF = SynthConfig(n=8, seed=7, layout="lavdf", **SMALL)
MISMATCH = SynthConfig(n=16, seed=7, layout="lavdf", forgery="mismatch", **SMALL)
ARTEFACTS = SynthConfig(n=16, seed=7, layout="lavdf", **SMALL)
PHOTO = SynthConfig(n=16, seed=7, layout="lavdf", forgery="mismatch", face="photo", **SMALL)


def _files(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def lavdf_root(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("synth") / "lavdf", LAVDF, workers=2, progress=False)


@pytest.fixture(scope="module")
def family_roots(tmp_path_factory):
    """The same 16 clips with artefact forgeries, with mismatch-only forgeries, and mismatch-only on
    the photo renderer."""
    return {name: generate(tmp_path_factory.mktemp("synth") / name, cfg, workers=2, progress=False)
            for name, cfg in (("artefacts", ARTEFACTS), ("mismatch", MISMATCH), ("photo", PHOTO))}


@pytest.fixture(scope="module")
def avdf_root(tmp_path_factory):
    cfg = SynthConfig(n=12, seed=3, layout="avdeepfake1m", **SMALL)
    return generate(tmp_path_factory.mktemp("synth") / "avdf", cfg, workers=2, progress=False)


def test_same_seed_gives_byte_identical_dataset_for_any_worker_count(lavdf_root, tmp_path):
    again = _files(generate(tmp_path / "again", LAVDF, workers=1, progress=False))
    assert again == _files(lavdf_root)
    other = SynthConfig(n=8, seed=8, layout="lavdf", **SMALL)
    other_meta = (generate(tmp_path / "other", other, workers=2, progress=False) / "metadata.json").read_bytes()
    assert other_meta != again["metadata.json"]


def test_lavdf_round_trip_media_matches_metadata(lavdf_root):
    records = load_lavdf(lavdf_root)
    meta = {m["file"]: m for m in json.loads((lavdf_root / "metadata.json").read_text())}
    assert len(records) == 8
    assert sum(r.modify_type is ModifyType.REAL for r in records) == 2  # one real clip per group of four
    for rec in records:
        clip = read_av(lavdf_root / rec.file)
        m = meta[rec.file]
        assert abs(clip.num_frames - m["video_frames"]) <= 1
        assert abs(clip.duration_s - rec.duration_s) <= 1 / 25 + 1e-6
        assert abs(len(clip.wave) - m["audio_frames"]) <= 640
        assert m["audio_frames"] == m["video_frames"] * 640 and m["duration"] == m["video_frames"] / 25
        if rec.modify_type is ModifyType.REAL:
            assert rec.fake_segments == () and rec.original is None
            continue
        assert 1 <= len(rec.fake_segments) <= 3 and m["n_fakes"] == len(rec.fake_segments)
        ends = [0.0] + [x for seg in rec.fake_segments for x in seg] + [rec.duration_s]
        assert ends == sorted(ends), "segments overlap or leave the clip"
        assert all(0.2 - 1e-6 <= e - s <= 1.5 + 1e-6 for s, e in rec.fake_segments)
        assert rec.audio_fake_segments == (rec.fake_segments if rec.modify_type.audio_fake else ())
        assert rec.visual_fake_segments == (rec.fake_segments if rec.modify_type.visual_fake else ())
        original = next(r for r in records if r.file == rec.original)
        assert original.modify_type is ModifyType.REAL and original.split == rec.split


def _forged_pairs(root):
    """(record, fake clip, original clip) of every fake video."""
    return [(rec, read_av(root / rec.file), read_av(root / rec.original))
            for rec in load_lavdf(root) if rec.original is not None]


@pytest.mark.parametrize("family", ["artefacts", "mismatch", "photo"])
def test_forgeries_change_the_forged_modality_only_inside_the_segments(family_roots, family):
    seen = set()
    for rec, fake, orig in _forged_pairs(family_roots[family]):
        seen.add(rec.modify_type)
        n = fake.num_frames
        if rec.modify_type.audio_fake:
            inside = np.repeat(VIDEO_GRID.segments_to_mask(rec.audio_fake_segments, n), 640)
            widened = [(s - 0.1, e + 0.1) for s, e in rec.audio_fake_segments]  # AAC frames overlap
            outside = ~np.repeat(VIDEO_GRID.segments_to_mask(widened, n), 640)
            diff = np.abs(fake.wave - orig.wave)
            assert diff[inside].mean() > 10 * diff[outside].mean()
            assert diff[inside].mean() > 0.2 * np.abs(orig.wave).mean()
        else:
            assert np.array_equal(fake.wave, orig.wave)
        if rec.modify_type.visual_fake:
            inside = VIDEO_GRID.segments_to_mask(rec.visual_fake_segments, n)
            diff = np.abs(crop_mouth(fake.frames).astype(np.float32) - crop_mouth(orig.frames)).mean(axis=(1, 2))
            # outside, only H.264 re-encoding noise differs; inside, the mouth was re-rendered
            assert diff[inside].mean() > 2 * diff[~inside].mean()
        else:
            assert np.array_equal(fake.frames, orig.frames)
    assert seen == {ModifyType.AUDIO, ModifyType.VISUAL, ModifyType.BOTH}


def _log_f0_ratio(fake: np.ndarray, orig: np.ndarray) -> float:
    import librosa

    f0 = [np.median(librosa.yin(x.astype(np.float64), fmin=60, fmax=400, sr=SAMPLE_RATE, frame_length=1024))
          for x in (fake, orig)]
    return abs(float(np.log(f0[0] / f0[1])))


def _mouth_sharpness(frames: np.ndarray) -> np.ndarray:
    import cv2

    return np.array([cv2.Laplacian(m.astype(np.float32), cv2.CV_32F).var() for m in crop_mouth(frames, gray=True)])


def test_mismatch_forgeries_keep_voice_and_image_quality_artefact_forgeries_do_not(family_roots):
    """Mismatch family: the forged words keep the speaker's pitch and the mouth keeps the frame's
    sharpness (sensor noise included); the artefact family changes both (so the test can fail)."""
    stats = {}
    for family, root in family_roots.items():
        if family == "photo":
            continue
        pitch, sharpness = [], []
        for rec, fake, orig in _forged_pairs(root):
            if rec.modify_type.audio_fake:
                for s, e in rec.audio_fake_segments:
                    a, b = int(s * SAMPLE_RATE), int(e * SAMPLE_RATE)
                    pitch.append(_log_f0_ratio(fake.wave[a:b], orig.wave[a:b]))
            if rec.modify_type.visual_fake:
                inside = VIDEO_GRID.segments_to_mask(rec.visual_fake_segments, fake.num_frames)
                sharpness.append(_mouth_sharpness(fake.frames)[inside].mean() /
                                 _mouth_sharpness(orig.frames)[inside].mean())
        stats[family] = (np.median(pitch), np.median(sharpness))
    assert stats["mismatch"][0] < 0.1 and stats["artefacts"][0] > 0.12, stats  # |log F0 ratio|
    assert 0.7 < stats["mismatch"][1] < 1.4 and stats["artefacts"][1] < 0.5, stats  # Laplacian variance ratio


@pytest.mark.parametrize("family", ["mismatch", "photo"])
def test_mismatch_lips_move_continuously_across_segment_edges(family_roots, family):
    """No jump in the mouth track at a forged segment's edges: frame-to-frame change of the mouth
    crop at the edges is no larger than inside real speech."""
    edge, other = [], []
    for rec, fake, _ in _forged_pairs(family_roots[family]):
        if not rec.modify_type.visual_fake:
            continue
        motion = np.abs(np.diff(crop_mouth(fake.frames, gray=True).astype(np.float32), axis=0)).mean(axis=(1, 2))
        edges = {VIDEO_GRID.index_of(t) for seg in rec.visual_fake_segments for t in seg}
        for i, m in enumerate(motion):
            (edge if i + 1 in edges else other).append(m)
    assert np.mean(edge) < 1.5 * np.percentile(other, 90)


def test_avdeepfake1m_layout_loads_with_splits_by_speaker(avdf_root):
    train, val = load_avdeepfake1m(avdf_root, "train"), load_avdeepfake1m(avdf_root, "val")
    test = load_avdeepfake1m(avdf_root, "test")
    hidden = load_avdeepfake1m(avdf_root / "hidden_labels", "test")
    assert [len(train), len(val), len(test)] == [4, 4, 4]
    assert not any(r.labelled for r in test) and [r.file for r in hidden] == [r.file for r in test]
    speakers = {}
    for split, recs in (("train", train), ("val", val), ("test", hidden)):
        names = {Path(r.file).stem for r in recs}
        assert names == {"real", "fake_video_real_audio", "real_video_fake_audio", "fake_video_fake_audio"}
        for rec in recs:
            assert (avdf_root / split / rec.file).is_file()
            speakers.setdefault(rec.file.split("/")[0], set()).add(split)
            per_video = json.loads((avdf_root / ("hidden_labels" if split == "test" else "") / f"{split}_metadata"
                                    / rec.file.replace(".mp4", ".json")).read_text())
            assert per_video["modify_type"] == rec.modify_type.value and per_video["transcripts"]
            assert len(per_video["operations"]) == len(rec.fake_segments)
            heard = [(w["word"], w["start"]) for w in per_video["transcripts"]]
            for op in per_video["operations"]:  # the transcript follows the audio: old words gone, new ones in
                inside = [word for word, start in heard if op["start"] <= start < op["end"]]
                assert " ".join(inside) == op["new_word" if rec.modify_type.audio_fake else "old_word"], (rec.file, op)
            if rec.modify_type is not ModifyType.REAL:
                assert rec.original == str(Path(rec.file).with_name("real.mp4"))
    assert all(len(splits) == 1 for splits in speakers.values()) and len(speakers) == 3


def test_output_folder_is_protected(tmp_path, capsys):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "precious.txt").write_text("keep")
    args = ["synth", "--out", str(user), "--n", "1", "--min-duration", "1", "--max-duration", "1", "--workers", "1"]
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err and (user / "precious.txt").read_text() == "keep"
    assert main(args + ["--force"]) == 0
    assert not (user / "precious.txt").exists() and (user / "metadata.json").is_file()
    stamp = (user / "metadata.json").stat().st_mtime_ns
    assert main(args) == 0  # the same dataset is already there: nothing to do
    assert (user / "metadata.json").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no temporary folders left
    with pytest.raises(AvforgeError, match="layout"):
        SynthConfig(layout="kinetics")


def test_speech_timings_and_visemes_follow_the_words():
    utt = synthesize("bob saw a wide open sea", Voice("en-us", 160, 50, 50))
    assert [w.label for w in utt.words] == ["bob", "saw", "a", "wide", "open", "sea"]
    starts = [w.start_s for w in utt.words]
    assert starts == sorted(starts) and utt.words[-1].end_s <= utt.duration_s
    # speech energy sits inside the word spans; the leading silence is quiet
    first = int(utt.words[0].start_s * SAMPLE_RATE)
    assert np.abs(utt.wave[:first]).mean() < 0.1 * np.abs(utt.wave[first:]).mean()
    assert viseme_of("p")[0] == 0.0 and viseme_of("'a")[0] > viseme_of("@")[0] > viseme_of("m")[0]
    openness, _ = viseme_tracks(utt.phonemes, VIDEO_GRID.num_frames(utt.duration_s))
    b_frame = VIDEO_GRID.index_of(utt.phonemes[0].start_s + 0.01)  # the closed 'b' of "bob"
    assert openness[b_frame] < 0.5 * openness.max()


def test_breathy_voices_speak_the_same_in_every_process():
    """espeak-ng seeds its breath noise (+f2 / +f3 variants) from the clock, to the second: without a seed
    per utterance, two generations of the same benchmark gave those speakers other audio."""
    code = ("import hashlib; from avforge.data.synthetic.speech import Voice, synthesize; "
            "print(hashlib.md5(synthesize('the quick brown fox jumps over the lazy dog', "
            "Voice('en-029+f3', 190, 57, 49)).wave.tobytes()).hexdigest())")
    runs = []
    for _ in range(3):  # each in a fresh process, a second or more after the last
        runs.append(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        time.sleep(1.1)
    assert len(set(runs)) == 1 and runs[0].strip()


@pytest.mark.parametrize("crop", ["fixed", "detect"])
def test_mouth_crop_does_not_see_blinks(crop):
    """Eyelids must not enter the lip features: rendering the same clip with and without blinks
    (largest head motion) gives identical mouth crops (the detected box is sized from the open-eyed
    clip, so both crops cut the same boxes)."""
    from avforge.io.mouth import mouth_boxes
    from dataclasses import replace

    from avforge.data.synthetic.face import FaceIdentity, FaceRenderer, Scene

    for seed in range(4):
        rng = np.random.default_rng(seed)
        renderer = FaceRenderer(FaceIdentity.sample(rng), 96, seed=seed)
        scene = Scene.sample(rng, 50, 1.0, renderer.margin)
        blinking = replace(scene, blink=np.ones(50, np.float32))
        still = replace(scene, blink=np.zeros(50, np.float32))
        openness, width = np.full(50, 0.5, np.float32), np.full(50, 0.5, np.float32)
        a, b = (renderer.render(s, openness, width) for s in (blinking, still))
        assert not np.array_equal(a, b)  # the blink is there ...
        if crop == "fixed":
            assert np.array_equal(crop_mouth(a), crop_mouth(b))  # ... but not in the mouth crop
        else:
            boxes = mouth_boxes(b, "detect")
            for box, fa, fb in zip(boxes, a, b):
                cx, cy, side = box
                top, bottom = int(cy - side / 2), int(np.ceil(cy + side / 2))
                left, right = int(cx - side / 2), int(np.ceil(cx + side / 2))
                assert np.array_equal(fa[top:bottom, left:right], fb[top:bottom, left:right])


def test_photo_renderer_moves_only_the_mouth_and_follows_openness():
    """The warped portrait: frames differ from the still photo only in the jaw/mouth box, more as
    the mouth opens; the face detector finds the mouth where the renderer put it, for framings
    that move it across the frame; a scene's variants are identical where the tracks agree."""
    from avforge.data.synthetic.face import Scene
    from avforge.data.synthetic.photo_face import PhotoFaceRenderer, PhotoIdentity
    from avforge.io.faces import face_points

    for seed in range(3):
        rng = np.random.default_rng(seed)
        renderer = PhotoFaceRenderer(PhotoIdentity.sample(rng), 96, seed=seed)
        scene = Scene.sample(rng, 30, 0.0, renderer.margin)
        still = Scene(np.zeros((30, 2), int), scene.blink, np.ones(30, np.float32), np.zeros(30, np.float32),
                      scene.noise_idx, 0.0)
        openness = np.r_[np.zeros(10), np.linspace(0, 1, 10), np.zeros(10)].astype(np.float32)
        width = np.full(30, 0.5, np.float32)
        frames = renderer.render(still, openness, width).astype(np.float32)
        change = np.abs(frames - frames[0]).mean(axis=-1)  # (T, H, W)
        y0, y1, x0, x1 = renderer.moving_box_in_frame()
        outside = change.copy()
        outside[:, y0:y1, x0:x1] = 0
        assert outside.max() <= 1.0 and change[:10].max() <= 1.0  # rounding only
        assert (y1 - y0) * (x1 - x0) < 0.6 * 96 * 96
        y0, y1, x0, x1 = renderer.mouth_box_in_frame((0, 0))
        inside = change[:, y0:y1, x0:x1].mean(axis=(1, 2))
        assert inside[19] > 10 and inside[19] > 1.5 * inside[12] > 0  # more change as the mouth opens
        points = face_points(frames[19].astype(np.uint8))
        mouth = points[3:].mean(axis=0)
        assert abs(mouth[0] - (x0 + x1) / 2) < 6 and y0 < mouth[1] < y1
        other = openness.copy()
        other[15:18] = 0.2
        a, b = (renderer.render(scene, o, width) for o in (openness, other))
        same = np.all(a == b, axis=(1, 2, 3))
        assert same[:15].all() and same[18:].all() and not same[15:18].any()


def test_dataset_made_before_the_face_option_is_still_recognised(lavdf_root, tmp_path):
    """A synth_config.json without "face" (written before --face existed) is the drawn renderer's
    dataset: re-running the same config keeps it; asking for photo faces does not."""
    import shutil
    from dataclasses import replace

    old = tmp_path / "old"
    shutil.copytree(lavdf_root, old)
    config = json.loads((old / "synth_config.json").read_text())
    assert config.pop("face") == "drawn" and config.pop("portraits") == []
    (old / "synth_config.json").write_text(json.dumps(config))
    before = _files(old)
    assert generate(old, LAVDF, workers=2, progress=False) == old and _files(old) == before
    with pytest.raises(AvforgeError, match="not this synthetic dataset"):
        generate(old, replace(LAVDF, face="photo"), workers=2, progress=False)


def test_other_portraits_render_the_same_labelled_clips_with_other_faces(family_roots, tmp_path, capsys):
    """--portrait: the photo renderer animates the given face photos, speakers taking them in turn; speech,
    forgeries and labels are the sample portrait's dataset's, the pixels are not. A file with no face in it
    is a one-line error naming it, and nothing is written."""
    import cv2
    import matplotlib.cbook
    from dataclasses import replace

    sample_path = str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    sample = cv2.imread(sample_path)
    h, w = sample.shape[:2]
    other = np.full((h + 200, w + 120, 3), 90, np.uint8)  # the face smaller, off-centre, on a grey wall
    other[150:150 + h * 3 // 4, 20:20 + w * 3 // 4] = cv2.resize(sample, (w * 3 // 4, h * 3 // 4))[..., ::-1]
    portrait = tmp_path / "other.png"
    cv2.imwrite(str(portrait), other)
    one = generate(tmp_path / "one", replace(PHOTO, portraits=(str(portrait),)), workers=2, progress=False)
    two = generate(tmp_path / "two", replace(PHOTO, portraits=(str(portrait), sample_path)), workers=2, progress=False)
    default = family_roots["photo"]
    meta = (default / "metadata.json").read_bytes()
    assert (one / "metadata.json").read_bytes() == (two / "metadata.json").read_bytes() == meta
    by_speaker = {}
    for record in json.loads(meta):
        by_speaker.setdefault(record["speaker"], record["file"])
    assert len(by_speaker) >= 2
    for speaker, file in by_speaker.items():
        k = int(speaker[2:]) - 1  # id00001 is speaker 0
        ours, theirs = read_av(one / file), read_av(default / file)
        assert np.array_equal(ours.wave, theirs.wave)
        assert np.abs(ours.frames.astype(float) - theirs.frames.astype(float)).mean() > 10  # another picture
        # two portraits: speakers take them in turn (the sample one given by its path is the default's)
        same_as = one if k % 2 == 0 else default
        assert (two / file).read_bytes() == (same_as / file).read_bytes(), speaker

    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 128, np.uint8))
    rc = main(["synth", "--out", str(tmp_path / "none"), "--n", "4", "--face", "photo", "--portrait", str(portrait),
               "--portrait", str(blank)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "no face found in the portrait" in err and str(blank) in err
    assert not (tmp_path / "none").exists() and not list(tmp_path.glob(".none*"))
    with pytest.raises(AvforgeError, match="photo renderer only"):
        SynthConfig(portraits=(str(portrait),))


def test_detect_crop_puts_every_speakers_mouth_at_one_place_and_scale():
    """Why ``detect`` is the light lip features' default crop: speakers of the photo renderer are
    framed differently, so inside the fixed box their mouths sit at different places and sizes
    (the pixels of one speaker then say nothing about another's); the detected box centres and
    scales every mouth alike."""
    from avforge.data.synthetic.face import Scene
    from avforge.data.synthetic.photo_face import PhotoFaceRenderer, PhotoIdentity
    from avforge.io.mouth import mouth_boxes

    where = {"fixed": [], "detect": []}
    for seed in range(8):
        rng = np.random.default_rng(seed)
        renderer = PhotoFaceRenderer(PhotoIdentity.sample(rng), 96, seed=seed)
        still = Scene(np.zeros((3, 2), int), np.zeros(3, np.float32), np.ones(3, np.float32),
                      np.zeros(3, np.float32), np.zeros(3, int), 0.0)
        frames = renderer.render(still, np.full(3, 0.3, np.float32), np.full(3, 0.5, np.float32))
        mouth = renderer.mouth_xy / renderer.work - renderer.margin  # (x, y) in frame pixels
        width = 2 * renderer.mouth_half_w / renderer.work
        for mode in where:
            cx, cy, side = mouth_boxes(frames, mode)[0]
            where[mode].append([(mouth[0] - cx) / side, (mouth[1] - cy) / side, width / side])
    spread = {mode: np.std(np.array(rows), axis=0) for mode, rows in where.items()}
    # measured (std over 8 speakers, in box sides): detect 0.025 / 0.022 / 0.029, fixed 0.107 / 0.157 / 0.069
    assert np.all(spread["detect"] < 0.04), spread  # place (x, y) and mouth width
    assert np.all(spread["fixed"][:2] > 3 * spread["detect"][:2]), spread
    assert spread["fixed"][2] > 1.5 * spread["detect"][2], spread


def test_manifest_words_of_the_synthetic_data_are_its_transcripts(avdf_root, tmp_path):
    words = tmp_path / "train.words.jsonl"
    assert main(["manifest", "--dataset", "synthetic", "--root", str(avdf_root), "--split", "train",
                 "--out", str(tmp_path / "train.jsonl"), "--words", str(words)]) == 0
    timings = dict(json.loads(line) for line in words.read_text().splitlines())
    records = load_avdeepfake1m(avdf_root, "train")
    assert sorted(timings) == sorted(r.file for r in records)
    for rec in records:
        per_video = json.loads((avdf_root / "train_metadata" / rec.file.replace(".mp4", ".json")).read_text())
        heard = sorted({(w["start"], w["end"]) for w in per_video["transcripts"]})
        assert timings[rec.file] == [list(span) for span in heard] != []
