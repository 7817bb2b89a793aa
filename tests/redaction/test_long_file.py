"""A four-hour recording: redacted whole, in flat memory, with audio kept and the frame count
and duration preserved (small frames and a low rate keep the test quick; length is what is
under test: spooled manifest rows, tracker state, progress totals)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.redaction.util import ffmpeg, streams

pytestmark = pytest.mark.slow
HOURS = 4
SECONDS = HOURS * 3600


@pytest.fixture(scope="module")
def four_hours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("long") / "four_hours.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=96x64:r=1:d={SECONDS}",
           "-f", "lavfi", "-i", f"sine=f=440:d={SECONDS}:r=8000",
           "-c:v", "libx264", "-preset", "ultrafast", "-g", "600", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-b:a", "16k", "-shortest", str(p))
    return p


def test_four_hour_file_is_redacted_whole_in_flat_memory(four_hours: Path,
                                                         tmp_path: Path) -> None:
    out, man = tmp_path / "out.mp4", tmp_path / "m.json"
    # in a child process, so its own peak memory can be read (VmHWM) without the test's
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from redaction.pipeline import redact_file\n"
        "ticks = []\n"
        "r = redact_file(Path(sys.argv[1]), Path(sys.argv[2]), manifest_path=Path(sys.argv[3]),"
        " progress=lambda d, t: ticks.append((d, t)))\n"
        "hwm = next(int(line.split()[1]) for line in open('/proc/self/status')\n"
        "           if line.startswith('VmHWM'))\n"
        "print(json.dumps({'frames': r.frames, 'hwm_kib': hwm, 'last_tick': ticks[-1]}))\n")
    run = subprocess.run([sys.executable, "-c", code, str(four_hours), str(out), str(man)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    res = json.loads(run.stdout.strip().splitlines()[-1])
    assert res["frames"] == SECONDS  # 1 fps: one frame per second, none lost
    assert res["last_tick"][0] == SECONDS
    print(f"four-hour redaction peak RSS: {res['hwm_kib'] / 1024:.0f} MiB")
    assert res["hwm_kib"] < 400 * 1024  # frames are streamed; nothing grows with length
    s = streams(out)
    assert abs(float(s["format"]["duration"]) - SECONDS) < 2
    assert "audio" in s
    manifest = json.loads(man.read_text())
    assert manifest["summary"]["frames"] == SECONDS
