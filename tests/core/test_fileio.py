"""Atomic outputs: special files are refused, sets commit together, stale temps of dead writers go."""
import os
import socket
import subprocess
import sys

import pytest

from avforge.core.errors import AvforgeError
from avforge.core.fileio import TEMP_TAG, _host, atomic_path, remove_stale_temps, write_json, write_json_set


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def temp_name(target: str, pid: int, host: str | None = None) -> str:
    return f".{target}{TEMP_TAG}{pid}-{host or _host()}-x1y2z3.json"


def test_a_fifo_target_is_refused_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    with pytest.raises(AvforgeError, match=r"out.json: exists and is a FIFO; refusing"):
        write_json(fifo, {"a": 1})
    assert fifo.is_fifo() and os.listdir(tmp_path) == ["out.json"]  # no temp left


def test_folder_socket_and_link_to_a_fifo_are_refused(tmp_path):
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(AvforgeError, match="is a folder") as err:
        write_json(tmp_path / "dir.json", {})
    assert TEMP_TAG not in str(err.value)  # the message names the target, not the temp file
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "s.json"))
    with pytest.raises(AvforgeError, match="is a socket"):
        write_json(tmp_path / "s.json", {})
    sock.close()
    os.mkfifo(tmp_path / "f")
    os.symlink(tmp_path / "f", tmp_path / "link.json")
    with pytest.raises(AvforgeError, match="is a FIFO"):
        write_json(tmp_path / "link.json", {})


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_character_device_is_refused(tmp_path):
    node = tmp_path / "null"
    try:
        os.mknod(node, 0o666 | 0o020000, os.makedev(1, 3))  # a /dev/null twin, never the real one
    except OSError:
        pytest.skip("no device nodes here")
    with pytest.raises(AvforgeError, match="is a character device"):
        write_json(node, {})
    assert node.is_char_device()


def test_target_replaced_by_a_fifo_while_writing_is_not_clobbered(tmp_path):
    out = tmp_path / "out.json"
    with pytest.raises(AvforgeError, match="is a FIFO"):
        with atomic_path(out) as tmp:
            tmp.write_text("{}")
            os.mkfifo(out)
    assert out.is_fifo()


def test_a_set_is_committed_together_or_not_at_all(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    write_json_set({a: 1, b: 2})
    assert (a.read_text(), b.read_text()) == ("1", "2")
    with pytest.raises(TypeError):  # the second object cannot be written: neither file changes
        write_json_set({a: 3, b: object()})
    (tmp_path / "c.json").mkdir()
    with pytest.raises(AvforgeError, match="c.json: exists and is a folder"):
        write_json_set({a: 4, tmp_path / "c.json": 5})
    assert (a.read_text(), b.read_text()) == ("1", "2")
    assert sorted(os.listdir(tmp_path)) == ["a.json", "b.json", "c.json"]


def test_only_temps_of_gone_writers_are_removed(tmp_path):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {"dead": temp_name("out.json", dead_pid()), "live": temp_name("out.json", live.pid),
                 "other": temp_name("other.json", dead_pid()), "far": temp_name("out.json", 1, "0badc0de"),
                 "user": ".out.json.notes.json"}
        for name in names.values():
            (tmp_path / name).write_text("x")
        old = os.stat(tmp_path / names["far"]).st_mtime - 2 * 86_400
        os.utime(tmp_path / names["far"], (old, old))
        assert remove_stale_temps(tmp_path, "out.json") == 2  # the dead writer's and the day-old remote one
        assert sorted(os.listdir(tmp_path)) == sorted([names["live"], names["other"], names["user"]])
        write_json(tmp_path / "other.json", {}, clean_stale=True)
        assert names["other"] not in os.listdir(tmp_path) and names["live"] in os.listdir(tmp_path)
    finally:
        live.kill()
        live.wait()
