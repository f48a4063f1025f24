"""Word timings from the datasets' metadata (avforge.data.words) and ``avforge manifest --words``."""
import json

import numpy as np
import pytest

from avforge.cli.main import main
from avforge.core.errors import AvforgeError
from avforge.data.words import dataset_words, parse_words, read_words, write_words


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]
from tests.data.test_loaders import av1m_item, lavdf_item, write


def test_every_timing_form_parses_to_sorted_unique_spans():
    spans = parse_words([["world", 0.5, 0.9], [0.0, 0.4], {"word": "hi", "start": 0.4, "end": 0.5},
                         [0.0, 0.4], ["um", 1.0, 1.0]])
    np.testing.assert_allclose(spans, [[0.0, 0.4], [0.4, 0.5], [0.5, 0.9]])  # repeats, zero-length dropped
    for bad in ([[0.4, 0.1]], [["a", "b", "c"]], [[0.1]], "0.1 0.2", [[True, 0.3]]):
        with pytest.raises(ValueError):
            parse_words(bad)


def test_lavdf_timings_come_from_the_full_metadata_only(tmp_path):
    items = [lavdf_item("train/000000.mp4", "train", timestamps=[["a", 0.0, 0.3], ["b", 0.3, 0.8]]),
             lavdf_item("train/000001.mp4", "train", [(0.3, 0.8)], audio=True),
             lavdf_item("test/000002.mp4", "test")]
    del items[1]["timestamps"]
    write(tmp_path / "metadata.json", items)
    words = dataset_words("lavdf", tmp_path, "train", ["train/000000.mp4", "train/000001.mp4"])
    assert list(words) == ["train/000000.mp4"]  # a record without timestamps has none
    np.testing.assert_allclose(words["train/000000.mp4"], [[0.0, 0.3], [0.3, 0.8]])
    (tmp_path / "metadata.min.json").write_text("[]")  # preferred for the records; timings stay in metadata.json
    assert list(dataset_words("lavdf", tmp_path, "train", ["train/000000.mp4"])) == ["train/000000.mp4"]
    (tmp_path / "metadata.json").unlink()  # the min file alone has none: no timings, not an error
    assert dataset_words("lavdf", tmp_path, "train", ["train/000000.mp4"]) == {}


def test_avdeepfake1m_timings_come_from_the_per_video_transcripts(tmp_path):
    files = ["id0/v/0/real.mp4", "id0/v/0/fake_video_real_audio.mp4"]
    per_video = tmp_path / "train_metadata" / "id0" / "v" / "0"
    per_video.mkdir(parents=True)
    write(per_video / "real.json", {**av1m_item(files[0], "real"), "transcripts": [
        {"word": "so", "start": 0.2, "end": 0.5}, {"word": "what", "start": 0.5, "end": 0.75}]})
    words = dataset_words("avdeepfake1m", tmp_path, "train", files)  # the second has no per-video JSON
    assert list(words) == [files[0]]
    np.testing.assert_allclose(words[files[0]], [[0.2, 0.5], [0.5, 0.75]])
    write(per_video / "real.json", {"transcripts": [{"word": "so", "start": 0.5, "end": 0.2}]})
    with pytest.raises(AvforgeError, match="real.json"):
        dataset_words("avdeepfake1m", tmp_path, "train", files)


def test_a_words_file_round_trips_and_a_bad_one_names_itself(tmp_path):
    words = {"b.mp4": np.array([[0.12345678, 0.5]]), "a.mp4": np.zeros((0, 2))}
    write_words(tmp_path / "w.jsonl", words)
    back = read_words(tmp_path / "w.jsonl")
    assert sorted(back) == ["a.mp4", "b.mp4"] and back["a.mp4"].shape == (0, 2)
    np.testing.assert_allclose(back["b.mp4"], [[0.1235, 0.5]])
    for text in ("[1, 2]", '["a.mp4", [[0.5, 0.1]]]', "{", '{"a.mp4": [[0.1, 0.5]]}'):
        write(tmp_path / "bad.json", text)
        with pytest.raises(AvforgeError, match="bad.json"):
            read_words(tmp_path / "bad.json")
    with pytest.raises(AvforgeError, match="none.jsonl: word-timings file not found"):
        read_words(tmp_path / "none.jsonl")


def test_manifest_writes_the_word_timings_even_where_there_are_none(tmp_path, capsys):
    items = [lavdf_item("train/000000.mp4", "train", timestamps=[["a", 0.0, 0.3]]),
             lavdf_item("train/000001.mp4", "train", timestamps=[["b", 0.1, 0.4], ["c", 0.4, 0.6]])]
    write(tmp_path / "metadata.json", items)
    out, words = tmp_path / "m" / "train.jsonl", tmp_path / "m" / "train.words.jsonl"
    args = ["manifest", "--dataset", "lavdf", "--root", str(tmp_path), "--split", "train", "--out", str(out)]
    assert main(args + ["--words", str(words)]) == 0
    assert lines(words) == [["train/000000.mp4", [[0.0, 0.3]]], ["train/000001.mp4", [[0.1, 0.4], [0.4, 0.6]]]]
    assert len(out.read_text().splitlines()) == 2
    for item in items:
        del item["timestamps"]
    write(tmp_path / "metadata.json", items)
    assert main(args + ["--words", str(words)]) == 0
    assert lines(words) == [] and "0 of 2 videos" in capsys.readouterr().out
    write(tmp_path / "metadata.json", [{**items[0], "timestamps": [["a", 0.5, 0.1]]}, items[1]])
    out.unlink(), words.unlink()
    assert main(args + ["--words", str(words)]) != 0  # malformed timings: an error, and neither file
    assert "metadata.json" in capsys.readouterr().err
    assert not out.exists() and not words.exists()
