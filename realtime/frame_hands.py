"""The hands of one frame: several readings' hands matched into one group per hand (`group_views`)
and a key per hand that its smoothing and motion are kept under (`hand_keys`)."""
from __future__ import annotations

import numpy as np

from hand import keypoints


def group_views(views: list[list[keypoints.Hand]]) -> list[list[keypoints.Hand]]:
    """Match the hands of several readings of one frame (the frame, its mirror image mapped back
    into the frame, the frame read with a border): each hand joins the nearest group whose first
    hand lies within half a hand size and that holds no hand of the same reading yet, or starts a
    group.  Groups come in order of first appearance; a group's first hand is the one shown."""
    groups: list[list[keypoints.Hand]] = []
    for hands in views:
        taken: set[int] = set()
        for hand in hands:
            best, best_gap = -1, np.inf
            for i, group in enumerate(groups):
                ref = group[0].landmarks
                size = np.linalg.norm(ref[:, :2] - ref[:1, :2], axis=1).mean()
                gap = np.linalg.norm(hand.landmarks[:, :2] - ref[:, :2], axis=1).mean()
                if i not in taken and gap < 0.5 * size and gap < best_gap:
                    best, best_gap = i, gap
            if best < 0:
                best = len(groups)
                groups.append([])
            groups[best].append(hand)
            taken.add(best)
    return groups


def hand_keys(hands: list[keypoints.Hand]) -> list[str]:
    """A smoothing key per hand: its handedness, numbered when two hands share one."""
    keys: list[str] = []
    for hand in hands:
        key = hand.handedness
        while key in keys:
            key += "+"
        keys.append(key)
    return keys
