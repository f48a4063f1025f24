"""The one reader: evaluate, submit and validate-submission accept and refuse the same files, in one
line naming the file; zips are bounded by their uncompressed size; messages are escaped and capped."""
import json
import zipfile

import pytest

from avforge.cli.main import main
from avforge.core.errors import MAX_LINE, AvforgeError
from avforge.eval import reader
from avforge.eval.reader import parse_predictions, read_zip

FILES = ["a.mp4", "b.mp4"]
GOOD = b'{"a.mp4": [[0.9, 0.1, 0.5]], "b.mp4": [[0.2, 1.0, 2.0]]}'


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "files.txt").write_text("a.mp4\nb.mp4\n")
    meta = [{"file": f, "split": "val", "fake_segments": [[0.1, 0.5]], "duration": 3.0} for f in FILES]
    (tmp_path / "val_metadata.json").write_text(json.dumps(meta))
    return tmp_path


def three_commands(capsys, folder, pred):
    """(exit status, stderr) of evaluate, submit and validate-submission on one prediction file."""
    runs = [["evaluate", "--pred", pred, "--meta", folder / "val_metadata.json"],
            ["submit", "--proposals", pred, "--files", folder / "files.txt", "--out", folder / "out.zip"],
            ["validate-submission", pred, "--files", folder / "files.txt"]]
    results = []
    for argv in runs:
        rc = main([str(a) for a in argv])
        results.append((rc, capsys.readouterr().err))
    return results


BAD_JSON = {
    "bom": (b"\xef\xbb\xbf" + GOOD, "byte order mark"),
    "plus": (GOOD.replace(b"0.9", b"+0.9"), "not valid JSON"),
    "leading dot": (GOOD.replace(b"0.9", b".9"), "not valid JSON"),
    "trailing dot": (GOOD.replace(b"1.0", b"1."), "not valid JSON"),
    "leading zeros": (GOOD.replace(b"0.9", b"00.9"), "not valid JSON"),
    "nan": (GOOD.replace(b"0.9", b"NaN"), "NaN/Infinity are not JSON numbers"),
    "duplicate key": (GOOD[:-1] + b', "a.mp4": []}', "1 duplicate keys: a.mp4"),
    "string score": (GOOD.replace(b"0.9", b'"0.9"'), "malformed rows"),
    "bool score": (GOOD.replace(b"0.9", b"true"), "malformed rows"),
    "deep": (b'{"a.mp4": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "not valid JSON"),
    "control char in key": (GOOD.replace(b'"b.mp4"', b'"b\x1b[31m.mp4"'), "not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD_JSON))
def test_every_command_refuses_the_same_bad_prediction_in_one_line(inputs, capsys, case):
    data, message = BAD_JSON[case]
    pred = inputs / "prediction.json"
    pred.write_bytes(data)
    for rc, err in three_commands(capsys, inputs, pred):
        assert rc == 2 and len(err.splitlines()) == 1, err
        assert f"{pred}: " in err and message in err and "\x1b" not in err, err
    assert not (inputs / "out.zip").exists()


def test_every_command_accepts_the_good_file(inputs, capsys):
    pred = inputs / "prediction.json"
    pred.write_bytes(GOOD)
    assert [rc for rc, _ in three_commands(capsys, inputs, pred)] == [0, 0, 0]


@pytest.mark.parametrize("number", [b"-0.5", b"0", b"-0", b"1e-05", b"1E+2", b"0.25e1", b"10", b"1.0"])
def test_fast_path_reads_json_numbers_exactly(number):
    flat = parse_predictions(b'{"a": [[' + number + b", 0.1, 0.5]]}", "p")
    assert flat.rows.tolist() == [[float(number), 0.1, 0.5]]


def test_zip_is_bounded_by_its_uncompressed_size(tmp_path, monkeypatch):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("prediction.json", b" " * 2_000_000)  # ~2 KB compressed
    assert bomb.stat().st_size < 10_000
    monkeypatch.setattr(reader, "MAX_BYTES", 1_000_000)
    with pytest.raises(AvforgeError, match=r"bomb.zip: members hold 0.00 GB uncompressed, over the 0.001 GB limit"):
        read_zip(bomb, ("prediction.json",))
    # a header that understates the size: the streamed read stops at the cap
    raw = bytearray(bomb.read_bytes())
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.index(sig) + offset
        raw[at:at + 4] = (100).to_bytes(4, "little")
    liar = tmp_path / "liar.zip"
    liar.write_bytes(bytes(raw))
    with pytest.raises(AvforgeError, match=r"liar.zip: (prediction.json inflates past the 0.001 GB limit|not a readable)"):
        read_zip(liar, ("prediction.json",))


def test_damaged_and_encrypted_zips_name_the_zip(tmp_path):
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("prediction.json", GOOD)
    raw = bytearray(good.read_bytes())
    at = raw.index(b"0.9")
    damaged = tmp_path / "crc.zip"
    damaged.write_bytes(bytes(raw[:at]) + b"0.8" + bytes(raw[at + 3:]))
    with pytest.raises(AvforgeError, match=r"crc.zip: not a readable zip \(BadZipFile: Bad CRC-32"):
        read_zip(damaged, ("prediction.json",))
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set the "encrypted" flag bit
        raw[raw.index(sig) + offset] |= 1
    locked = tmp_path / "locked.zip"
    locked.write_bytes(bytes(raw))
    with pytest.raises(AvforgeError, match=r"locked.zip: 1 encrypted members \(upload an unencrypted zip\): prediction"):
        read_zip(locked, ("prediction.json",))


def test_messages_escape_control_characters_and_are_capped(tmp_path, capsys):
    evil = "\x1b]0;owned\x07" + "k" * 5_000_000
    pred = tmp_path / "prediction.json"
    pred.write_text(json.dumps({evil: [[0.5, 0.1, 0.2]]}))
    (tmp_path / "files.txt").write_text("a.mp4\n")
    rc = main(["validate-submission", str(pred), "--files", str(tmp_path / "files.txt")])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.splitlines()) == 1 and len(err) < MAX_LINE + 100
    assert "\x1b" not in err and "\x07" not in err and "\\x1b]0;owned\\x07kkk" in err


@pytest.mark.parametrize("scores, message", [
    ({"a.mp4": "0.5", "b.mp4": 0.1}, r"a.mp4 \(str '0.5' is not a number\)"),
    ({"a.mp4": True, "b.mp4": 0.1}, r"a.mp4 \(bool True is not a number\)"),
    ({"a.mp4": 1.5, "b.mp4": 0.1}, r"a.mp4 \(1.5 is not a probability in \[0, 1\]\)"),
])
def test_video_scores_follow_one_rule_in_submit_and_evaluate(inputs, capsys, scores, message):
    path = inputs / "video_scores.json"
    path.write_text(json.dumps(scores))
    pred = inputs / "prediction.json"
    pred.write_bytes(GOOD)
    for argv in (["submit", "--scores", path, "--files", inputs / "files.txt", "--out", inputs / "p.txt"],
                 ["evaluate", "--pred", pred, "--meta", inputs / "val_metadata.json", "--detection", path]):
        assert main([str(a) for a in argv]) == 2
        err = capsys.readouterr().err
        assert f"{path}: 1 scores that are not probabilities in [0, 1]" in err
        assert pytest.importorskip("re").search(message, err), err


@pytest.mark.parametrize("duration, message", [(-1, "durations that are not positive finite seconds: a.mp4 (-1)"),
                                               (None, None), (0.004, None)])
def test_submit_never_writes_an_empty_list_and_refuses_bad_durations(inputs, capsys, duration, message):
    (inputs / "d.json").write_text(json.dumps({"a.mp4": duration if duration is not None else float("nan"),
                                               "b.mp4": 3.0}).replace("NaN", "-1" if duration == -1 else "NaN"))
    (inputs / "raw.json").write_text('{"b.mp4": [[0.5, 0.1, 0.2]]}')
    out = inputs / "out.json"
    rc = main([str(a) for a in ["submit", "--proposals", inputs / "raw.json", "--files", inputs / "files.txt",
                                "--durations", inputs / "d.json", "--out", out]])
    err = capsys.readouterr().err
    if duration is None:  # NaN is not JSON
        assert rc == 2 and "NaN/Infinity are not JSON numbers" in err and not out.exists()
    elif message:
        assert rc == 2 and message in err and not out.exists()
    else:
        assert rc == 0 and json.loads(out.read_text())["a.mp4"] == [[0.0001, 0.0, 0.01]]
        assert "1 videos shorter than 0.01 s get the placeholder [0.0001, 0.0, 0.01]: a.mp4" in err


def test_submit_removes_the_temp_a_killed_submit_left(inputs, capsys):
    import subprocess
    import sys

    from avforge.core.fileio import TEMP_TAG, _host
    killed = subprocess.Popen([sys.executable, "-c", "pass"])
    killed.wait()
    stale = inputs / f".out.zip{TEMP_TAG}{killed.pid}-{_host()}-abc123.zip"
    stale.write_bytes(b"half a zip")
    (inputs / "raw.json").write_bytes(GOOD)
    assert main([str(a) for a in ["submit", "--proposals", inputs / "raw.json", "--files", inputs / "files.txt",
                                  "--out", inputs / "out.zip"]]) == 0
    assert not stale.exists() and (inputs / "out.zip").is_file()


def test_number_check_gives_the_same_answer_in_blocks():
    """The grammar check runs in cache-sized blocks cut after newlines: any block size, same verdict,
    and a bad number is found wherever it falls."""
    good = b"\n".join([b"0.5", b"-0", b"1e-05", b"10", b"0.25e1"] * 40)
    for bad in (b"+0.9", b".5", b"1.", b"00.9", b"1.e5"):
        for where in (0, 77, 199):
            rows = good.split(b"\n")
            rows.insert(where, bad)
            tokens = b"\n".join(rows)
            assert [reader._json_numbers(tokens, block) for block in (1, 7, 64, 1 << 18)] == [False] * 4, (bad, where)
    assert all(reader._json_numbers(good, block) for block in (1, 7, 64, 1 << 18))
