"""Stick-figure pictures: the figure is really drawn where the joints project, in the right
colours, in step across panels, with the camera following, and missing joints shown."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from motiongen.render.pictures import RenderOptions, render_motions
from motiongen.core.motion import Motion
from motiongen.errors import ConfigError
from motiongen.render.stick import Panel, Scene, Track, View, find_ffmpeg, timeline
from motiongen.render.style import LEFT, MISSING_RGB, RIGHT, SIDE_RGB, joint_sides
from motiongen.skeletons import load_skeleton

SMALL = (96, 96)


def walking(frames: int = 12, fps: float = 30.0, speed_m_s: float = 1.2, skeleton: str = "smpl22") -> Motion:
    """The rest pose of a registry skeleton gliding forward (+Z) and swinging its legs."""
    skel = load_skeleton(skeleton)
    rest = skel.rest_positions()
    rest = rest - [0, rest[:, 1].min(), 0]
    t = np.arange(frames) / fps
    positions = np.repeat(rest[None], frames, 0)
    positions[:, :, 2] += speed_m_s * t[:, None]
    sides = joint_sides(skel)
    swing = 0.15 * np.sin(2 * np.pi * t)[:, None] * np.where(sides == LEFT, 1, np.where(sides == RIGHT, -1, 0))
    below_hips = positions[..., 1] < rest[0, 1]
    positions[..., 2] += swing * below_hips
    return Motion(positions.astype(np.float32), skel, fps)


def is_background(pixels: np.ndarray) -> np.ndarray:
    return (pixels >= 250).all(-1)


def darkest_near(image: np.ndarray, row: float, col: float, radius: int = 1) -> np.ndarray:
    r, c = int(round(row)), int(round(col))
    patch = image[max(0, r - radius):r + radius + 1, max(0, c - radius):c + radius + 1].reshape(-1, 3)
    return patch[np.argmin(patch.sum(-1))]


def test_joints_are_drawn_where_they_project():
    motion = walking()
    scene = Scene([Panel(Track(motion, View()))], size_px=SMALL)
    for frame in (0, 6, 11):
        image = scene.draw([frame])
        assert image.shape == (SMALL[1], SMALL[0], 3) and image.dtype == np.uint8
        pixels = scene.joint_pixels(0, frame)
        inside = ((pixels >= 0) & (pixels < SMALL[0])).all(-1)
        assert inside.all(), "every joint of a walking figure fits in its panel"
        for row, col in pixels:
            assert not is_background(darkest_near(image, row, col)), f"nothing drawn at joint pixel {(row, col)}"
        assert (~is_background(image)).mean() > 0.02  # a figure, not a dot


def test_left_limbs_blue_and_right_limbs_red():
    motion = walking()
    skel = motion.skeleton
    scene = Scene([Panel(Track(motion, View(azimuth_deg=0)))], size_px=(160, 160))  # from the front: legs apart
    image = scene.draw([0])
    pixels = scene.joint_pixels(0, 0)
    for knee, colour in (("left_knee", SIDE_RGB[LEFT]), ("right_knee", SIDE_RGB[RIGHT])):
        j = skel.canonical_index()[knee]
        mid = (pixels[j] + pixels[skel.parents[j]]) / 2
        drawn = darkest_near(image, *mid) / 255
        assert np.abs(drawn - colour).max() < 0.25, (knee, drawn, colour)


def test_camera_follows_the_character_unless_told_not_to():
    motion = walking(frames=60, speed_m_s=3.0)  # 6 m forward in 2 s
    follow = Scene([Panel(Track(motion, View(azimuth_deg=90)))], size_px=SMALL)
    fixed = Scene([Panel(Track(motion, View(azimuth_deg=90, follow=False)))], size_px=SMALL)
    centre = np.array(SMALL[::-1]) / 2
    for frame in (0, 30, 59):
        follow.draw([frame])
        fixed.draw([frame])
        assert np.abs(follow.joint_pixels(0, frame)[0] - centre).max() < 0.25 * SMALL[0]
    moved = fixed.joint_pixels(0, 59)[0] - fixed.joint_pixels(0, 0)[0]
    assert abs(moved[1]) > SMALL[0], "a still camera sees the walker cross the panel"


def test_timeline_keeps_panels_in_step_by_time():
    slow, fast = walking(frames=30, fps=30), walking(frames=30, fps=60)
    frames = timeline([Track(slow, View()), Track(fast, View())], fps=30)
    assert frames.shape == (30, 2)
    np.testing.assert_array_equal(frames[:15, 1], 2 * frames[:15, 0])  # same moment
    assert (frames[15:, 1] == 29).all()  # the half-second clip holds its last frame


def test_missing_joints_are_counted_and_masked_joints_orange():
    motion = walking()
    skel = motion.skeleton
    knee = skel.canonical_index()["left_knee"]
    wrist = skel.canonical_index()["right_wrist"]
    positions = motion.positions.copy()
    positions[:, knee] = np.nan
    mask = np.ones(positions.shape[:2], bool)
    mask[:, wrist] = False  # present but flagged (an imputed joint)
    scene = Scene([Panel(Track(motion.replace(positions=positions, mask=mask), View()))], size_px=(160, 160))
    image = scene.draw([3])
    pixels = scene.joint_pixels(0, 3)
    assert np.isnan(pixels[knee]).all()
    drawn = darkest_near(image, *pixels[wrist], radius=0) / 255
    assert np.abs(drawn - MISSING_RGB).max() < 0.25, drawn
    labels = [t.get_text() for t in scene.figure.axes[0].texts]
    assert "1 joint missing" in labels


def test_gif_has_one_frame_per_output_frame(tmp_path):
    motion = walking(frames=20, fps=20)
    result = render_motions([motion], ["walk"], tmp_path / "walk.gif", RenderOptions(fps=10, size_px=SMALL))
    with Image.open(result.path) as gif:
        assert gif.n_frames == 10 and gif.size == SMALL
        gif.seek(0)
        first = np.asarray(gif.convert("RGB"))
        gif.seek(9)
        last = np.asarray(gif.convert("RGB"))
    assert (~is_background(first)).mean() > 0.02
    assert not np.array_equal(first, last), "the figure moves"


def test_side_by_side_grid_sizes(tmp_path):
    motions = [walking(), walking(frames=6), walking(skeleton="ntu25")]
    result = render_motions(motions, ["a", "b", "c"], tmp_path / "grid.gif", RenderOptions(columns=2, size_px=SMALL))
    assert result.size == (2 * SMALL[0], 2 * SMALL[1]) and result.frame_count == 12


def test_png_contact_sheet_and_still(tmp_path):
    motions = [walking(), walking(skeleton="h36m17")]
    sheet = render_motions(motions, ["a", "b"], tmp_path / "sheet.png", RenderOptions(sheet_frames=5, size_px=SMALL))
    with Image.open(sheet.path) as image:
        assert image.size == (5 * SMALL[0], 2 * SMALL[1])
        cells = np.asarray(image.convert("RGB")).reshape(2, SMALL[1], 5, SMALL[0], 3)
    assert (~is_background(cells)).mean(axis=(1, 3)).min() > 0.01, "every cell holds a figure"
    still = render_motions(motions, ["a", "b"], tmp_path / "still.png", RenderOptions(frame=4, size_px=SMALL))
    assert still.size == (2 * SMALL[0], SMALL[1])
    with pytest.raises(ConfigError, match="out of range"):
        render_motions(motions, ["a", "b"], tmp_path / "x.png", RenderOptions(frame=12, size_px=SMALL))
    assert not (tmp_path / "x.png").exists()


@pytest.mark.skipif(find_ffmpeg() is None, reason="no ffmpeg encoder here (install ffmpeg or imageio-ffmpeg)")
def test_mp4_has_every_frame(tmp_path):
    import imageio_ffmpeg

    result = render_motions([walking(frames=15)], ["walk"], tmp_path / "walk.mp4", RenderOptions(size_px=SMALL))
    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(result.path))
    assert frames == 15 and result.size == SMALL
    assert [p.name for p in tmp_path.iterdir()] == ["walk.mp4"]


def test_mp4_without_an_encoder_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIONGEN_FFMPEG", str(tmp_path / "no-such-ffmpeg"))
    with pytest.raises(ConfigError, match="ffmpeg"):
        render_motions([walking()], ["walk"], tmp_path / "walk.mp4")
    assert list(tmp_path.iterdir()) == []


def test_a_motion_with_nothing_to_draw(tmp_path):
    motion = walking()
    empty = motion.replace(positions=np.full_like(motion.positions, np.nan))
    with pytest.raises(ConfigError, match="every joint of every frame is missing"):
        render_motions([empty], ["empty.npy"], tmp_path / "e.gif")
    assert list(tmp_path.iterdir()) == []


def test_real_cmu_walk_contact_sheet(tmp_path, walking_bvh):
    from motiongen.api.render import render

    result = render([walking_bvh], tmp_path / "walk.png", RenderOptions(sheet_frames=4, size_px=(120, 120)))
    with Image.open(result.path) as image:
        cells = np.asarray(image.convert("RGB")).reshape(120, 4, 120, 3)
    assert (~is_background(cells)).mean(axis=(0, 2)).min() > 0.01
