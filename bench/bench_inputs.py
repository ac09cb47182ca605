"""benchmark.py's inputs: an evenly spaced slice of the real images, the test videos made from
them, the weights timed and their ONNX export."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

FPS = 30.0  # of the test videos
SIZE = (640, 480)  # their frame size


def image_slice(data: Path, count: int, tmp: Path) -> tuple[Path, list[str]]:
    """`count` evenly spaced images of all sources, linked into tmp/images/<source>/<class>/."""
    from dataset import dataset_layout as layout
    entries = [e for source in layout.find_sources([data]) for e in layout.list_entries(source)[0]
               if e.path.suffix.lower() in layout.IMAGE_EXTENSIONS]
    if not entries:
        raise SystemExit(f"benchmark.py: error: no images in {data}")
    chosen = [entries[int(i)] for i in np.linspace(0, len(entries) - 1, min(count, len(entries)))]
    root = tmp / "images"
    paths = []
    for e in chosen:
        link = root / e.source / e.relpath
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(e.path.resolve(), link)
        paths.append(str(link))
    return root, paths


def letterbox(bgr: np.ndarray) -> np.ndarray:
    """An image scaled into a black SIZE frame, centred."""
    import cv2
    scale = min(SIZE[0] / bgr.shape[1], SIZE[1] / bgr.shape[0])
    small = cv2.resize(bgr, (round(bgr.shape[1] * scale), round(bgr.shape[0] * scale)))
    frame = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    y, x = (SIZE[1] - small.shape[0]) // 2, (SIZE[0] - small.shape[1]) // 2
    frame[y:y + small.shape[0], x:x + small.shape[1]] = small
    return frame


def job_setup(paths: list[str], video_images: int, folder: str, weights: str, hold_frames: int,
              startup_frames: int, web_fps: int) -> dict:
    """The test videos (640x480 mp4v: `video_images` real images of at least 200 px, letterboxed,
    `hold_frames` frames each; and a still video of `startup_frames` frames for start-up), the .pth to time (a random-weight stand-in
    when absent: timing does not depend on the weights) and its ONNX export.  Where the page can be
    driven (browser_session.missing()), also the test video as the y4m its fake camera plays at
    `web_fps` (each image held as long; else `y4m` is None and a note says why).  Run as a job so
    the parent stays small (a child's ru_maxrss cannot be below its parent's peak RSS)."""
    import cv2
    from serving import browser_session
    from classifiers import onnx_export
    frames = [letterbox(bgr) for bgr in map(cv2.imread, paths) if bgr is not None and min(bgr.shape[:2]) >= 200]
    if not frames:
        raise SystemExit("no image of at least 200 px for the test video")
    for name, chosen, hold in (("video.mp4", frames[:video_images], hold_frames),
                               ("still.mp4", frames[:1], startup_frames)):
        writer = cv2.VideoWriter(str(Path(folder, name)), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
        for frame in chosen:
            for _ in range(hold):
                writer.write(frame)
        writer.release()
    notes, y4m = [], None
    if (why := browser_session.missing()) is None:
        y4m = str(Path(folder, "video.y4m"))
        hold = max(1, round(hold_frames * web_fps / FPS))
        browser_session.write_y4m(y4m, (cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) for frame in frames[:video_images]
                                        for _ in range(hold)), web_fps)
    else:
        notes.append(f"the page is not timed: {why}")
    if not Path(weights).is_file():
        from dataset import dataset_layout as layout
        import model as model_lib
        notes.append(f"{weights} not found: timed a random-weight model of the same shape")
        weights = str(Path(folder, "weights", "random.pth"))
        model_lib.save_checkpoint(weights, model_lib.build_model(len(layout.KAGGLE_CLASSES)),
                                  layout.KAGGLE_CLASSES, {})
    onnx_path = Path(folder, "onnx", "model.onnx")
    onnx_export.export(Path(weights), onnx_path)
    return {"video": str(Path(folder, "video.mp4")), "still": str(Path(folder, "still.mp4")), "pth": weights,
            "onnx": str(onnx_path), "y4m": y4m, "notes": notes}
