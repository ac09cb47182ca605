"""hand/small_frames.py: a photo's hand shrunk into a small JPEG frame as kaggle64's are (no detector needed)."""
from __future__ import annotations

import numpy as np

from hand import small_frames


def photo_with_hand(box: tuple[int, int, int, int], size: tuple[int, int] = (480, 640)) -> tuple[np.ndarray, np.ndarray]:
    """A black photo with a white rectangle (x0, y0, x1, y1) standing in for the hand, and
    landmarks (units of the longer side) spanning that rectangle."""
    h, w = size
    rgb = np.zeros((h, w, 3), np.uint8)
    x0, y0, x1, y1 = box
    rgb[y0:y1, x0:x1] = 255
    xs = np.linspace(x0, x1 - 1, 21)
    ys = np.linspace(y1 - 1, y0, 21)
    return rgb, np.stack([xs, ys, np.zeros(21)], 1).astype(np.float32) / max(h, w)


def white_extent(frame: np.ndarray) -> float:
    """The white rectangle's longer side in the frame, as a share of the frame's side."""
    ys, xs = np.nonzero(frame.mean(2) > 128)
    return max(np.ptp(xs) + 1, np.ptp(ys) + 1) / frame.shape[0]


def test_the_hand_fills_a_small_frame_as_much_as_a_kaggle64_hand_does():
    rgb, landmarks = photo_with_hand((300, 150, 420, 330))
    fills = []
    for i in range(200):
        frame = small_frames.shrink_around_hand(rgb, landmarks, small_frames.crop_generator(f"A/{i}.jpg", 0))
        assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8
        fills.append(white_extent(frame))
    fills = np.array(fills)
    assert fills.min() >= min(small_frames.HAND_FILL) - 0.05 and fills.max() <= 0.97
    assert abs(np.median(fills) - small_frames.HAND_FILL[len(small_frames.HAND_FILL) // 2]) < 0.06


def test_a_hand_at_the_photo_edge_is_kept_whole():
    rgb, landmarks = photo_with_hand((560, 0, 640, 200))
    for i in range(50):
        frame = small_frames.shrink_around_hand(rgb, landmarks, small_frames.crop_generator(f"B/{i}.jpg", 0))
        assert frame.shape == (64, 64, 3)
        assert white_extent(frame) < 0.97  # the whole hand is inside, edges replicated beyond the photo


def test_the_same_photo_gives_the_same_frame_and_another_photo_another():
    rgb, landmarks = photo_with_hand((200, 100, 330, 300))
    one, again, other = (small_frames.shrink_around_hand(rgb, landmarks, small_frames.crop_generator(name, seed))
                         for name, seed in (("A/1.jpg", 0), ("A/1.jpg", 0), ("A/2.jpg", 0)))
    assert np.array_equal(one, again) and not np.array_equal(one, other)
