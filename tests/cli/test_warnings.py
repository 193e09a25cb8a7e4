"""Library warnings reach the user as one ``warning: …`` line from every command, not as Python's
two-line report with a file name, line number and source line."""

from __future__ import annotations

import subprocess
import sys

BVH_WITHOUT_UNITS = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 3 Xposition Yposition Zposition
  End Site
  {
    OFFSET 0 1 0
  }
}
MOTION
Frames: 1
Frame Time: 0.0333333
0 0 0
"""


def test_a_warning_is_one_line(tmp_path):
    path = tmp_path / "tiny.bvh"
    path.write_text(BVH_WITHOUT_UNITS)
    result = subprocess.run([sys.executable, "-m", "motiongen", "info", str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines == [line for line in lines if line.startswith("warning: ")], lines
    assert any("BVH has no units" in line for line in lines)
    assert "UserWarning" not in result.stderr and ".py:" not in result.stderr
