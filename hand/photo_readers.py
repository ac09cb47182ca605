"""Many independent photos read at once: worker processes, each holding one IMAGE-mode hand detector.

`detect_files` reads photos the way `keypoints.HandDetector.readings` reads one (preprocess.py,
evaluate.py, personalize.py); `map_photos` runs any per-photo function on such workers
(hand/small_frames.py).
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, NamedTuple, Sequence

from hand import keypoints

_worker_detector: keypoints.HandDetector | None = None


class Reading(NamedTuple):
    """The hands found in one reading of a photo: of the photo or of its mirror image
    (`mirrored`, landmarks then in the mirror image's coordinates), with a border of `border` x
    its longer side (0: none)."""
    mirrored: bool
    border: float
    hands: list[keypoints.Hand]


def _init_worker(hand_model: str | None, max_hands: int) -> None:
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent process handles Ctrl-C
    global _worker_detector
    _worker_detector = keypoints.HandDetector(hand_model, mode="image", max_hands=max_hands)


def _run_job(job: tuple[Callable[..., Any], tuple]) -> Any:
    function, args = job
    return function(_worker_detector, *args)


def map_photos(function: Callable[..., Any], jobs: Sequence[tuple], workers: int = 1, hand_model: str | None = None,
               max_hands: int = 1) -> Iterator[Any]:
    """`function(detector, *job)` for each job, in completion order, with `workers` processes each
    holding one IMAGE-mode detector (`function` must be a module-level function).  Resolve the
    hand model first (`keypoints.resolve_hand_model`) to fail fast with a clear message."""
    if not jobs:
        return
    if workers <= 1 or len(jobs) == 1:
        global _worker_detector
        _worker_detector = keypoints.HandDetector(hand_model, mode="image", max_hands=max_hands)
        try:
            yield from (_run_job((function, job)) for job in jobs)
        finally:
            _worker_detector.close()
            _worker_detector = None
        return
    import multiprocessing
    with multiprocessing.get_context("spawn").Pool(min(workers, len(jobs)), _init_worker,
                                                   (hand_model, max_hands)) as pool:
        yield from pool.imap_unordered(_run_job, [(function, job) for job in jobs], chunksize=4)


def _detect_file(detector: keypoints.HandDetector, index: int, path: str, views: tuple[bool, ...],
                 every_border: bool) -> tuple[int, list[Reading] | None]:
    rgb = keypoints.read_image(path)
    if rgb is None:
        return index, None
    return index, [Reading(mirrored, border, hands) for mirrored in views
                   for border, hands in detector.readings(rgb[:, ::-1] if mirrored else rgb, every_border)]


def detect_files(paths: Sequence[str], workers: int = 1, hand_model: str | None = None,
                 views: tuple[bool, ...] = (False,), max_hands: int = 1, every_border: bool = False
                 ) -> Iterator[tuple[int, list[Reading] | None]]:
    """Detect hands in independent photos (IMAGE mode) with `workers` processes, in completion
    order: (index into paths, its readings), None for a file that cannot be decoded.  Each entry
    of `views` (False: the photo, True: the mirrored photo) is read as `HandDetector.readings`
    does (up to the first border that finds a hand, or with `every_border` with all of them; the
    same again at `keypoints.LAST_RESORT_CONFIDENCE` when none finds one).  Resolve the hand model first
    (`keypoints.resolve_hand_model`) to fail fast with a clear message."""
    return map_photos(_detect_file, [(i, str(p), views, every_border) for i, p in enumerate(paths)], workers,
                      hand_model, max_hands)
