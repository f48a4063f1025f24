"""The HTML report in a real headless Chromium: the video loads, clicks seek, the playhead follows
playback, pages without segments or without audio render, and the console stays clean."""
import pytest
from report_pages import browser, open_page, report_video, silent_video, talking_video  # noqa: F401

from avforge.engine.html_report import write_reports

SECONDS = 4.0


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    talking = talking_video(root / "videos" / "talk.mp4", SECONDS)
    silent = silent_video(root / "videos" / "silent.mp4", SECONDS)
    out = {}
    for name, video in (("main", report_video(talking, SECONDS, truth=True)),
                        ("empty", report_video(talking, SECONDS, segments=False)),
                        ("silent", report_video(silent, SECONDS, has_audio=False))):
        out[name] = write_reports(root / "pages" / f"{name}.html", [video], {"checkpoint": "test"})[0]
    return out


def wait_metadata(page):
    page.wait_for_function("document.getElementById('video').readyState >= 1", timeout=10000)


def test_metadata_loads_and_clicks_seek(browser, pages):
    page, messages = open_page(browser, pages["main"])
    wait_metadata(page)
    assert page.evaluate("document.getElementById('video').duration") == pytest.approx(SECONDS, abs=0.05)
    starts = page.evaluate("avforgeReport.segments.map(s => s.start)")
    for i in (1, 0):  # the visual band, then the best (audio) band
        centre = page.evaluate(f"avforgeReport.bandCenter({i})")
        page.mouse.click(centre["x"], centre["y"])
        assert page.evaluate("document.getElementById('video').currentTime") == pytest.approx(starts[i], abs=0.05)
        assert page.evaluate("document.querySelector('#segtable tr.sel').dataset.i") == str(i)
        assert page.locator("#crops img").count() == 8  # the mouth-crop strip of the selected segment
    box = page.locator("#timeline").bounding_box()  # a click on the curves seeks to the time under it
    left = 78  # the canvas' label margin (page.js M.left)
    x = box["x"] + left + 0.75 * (box["width"] - left - 10)
    page.mouse.click(x, box["y"] + 100)
    assert page.evaluate("document.getElementById('video').currentTime") == pytest.approx(0.75 * SECONDS, abs=0.05)
    assert page.locator("#truthtable tbody tr").count() == 1
    assert messages == []


def test_playhead_follows_playback(browser, pages):
    page, messages = open_page(browser, pages["main"])
    wait_metadata(page)
    x0 = page.evaluate("document.getElementById('playhead').offsetLeft")
    page.evaluate("const v = document.getElementById('video'); v.muted = true; v.play()")
    page.wait_for_function("document.getElementById('video').currentTime > 1.0", timeout=10000)
    page.evaluate("document.getElementById('video').pause()")
    t = page.evaluate("document.getElementById('video').currentTime")
    x1 = page.evaluate("document.getElementById('playhead').offsetLeft")
    width = page.evaluate("document.getElementById('timeline').clientWidth") - 78 - 10
    assert x1 - x0 == pytest.approx(t / SECONDS * width, abs=3)
    assert messages == []


@pytest.mark.parametrize("name", ["empty", "silent"])
def test_pages_without_segments_or_audio_render(browser, pages, name):
    page, messages = open_page(browser, pages[name])
    wait_metadata(page)
    table = page.locator("#segtable tbody").inner_text()
    summary = page.locator("#summary").inner_text()
    if name == "empty":
        assert "no segments predicted" in table and "0 segments" in summary
    else:
        assert "no audio stream" in summary and page.locator("#segtable tbody tr").count() == 3
    inked = page.evaluate("""(() => { const c = document.getElementById('timeline');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i + 3] && d[i] < 100) n++; return n; })()""")
    assert inked > 500  # curves, labels and axis were drawn
    assert messages == []
