"""Random box pairs for the detection tests and loss_db entries (NumPy, float64; imports nothing of losskit)."""

from __future__ import annotations

import numpy as np


def to_format(xyxy: np.ndarray, box_format: str) -> np.ndarray:
    """xyxy corners -> the format's coordinates (float64)."""
    lo, hi = xyxy[..., :2], xyxy[..., 2:]
    if box_format == "xyxy":
        return xyxy
    if box_format == "xywh":
        return np.concatenate([lo, hi - lo], -1)
    return np.concatenate([(lo + hi) / 2, hi - lo], -1)


def random_pairs(rng: np.random.Generator, lead: tuple, box_format: str = "xyxy"):
    """Predicted and target boxes of shape ``lead + (4,)``: about half jittered copies (overlapping), half independent."""
    corner = rng.uniform(0.0, 10.0, size=lead + (2,))
    size = rng.uniform(0.3, 4.0, size=lead + (2,))
    target = np.concatenate([corner, corner + size], -1)
    jitter = rng.normal(0.0, 0.4, size=lead + (4,))
    near = target + jitter
    near[..., 2:] = np.maximum(near[..., 2:], near[..., :2] + 0.05)
    corner2 = rng.uniform(0.0, 10.0, size=lead + (2,))
    far = np.concatenate([corner2, corner2 + rng.uniform(0.3, 4.0, size=lead + (2,))], -1)
    pick = rng.uniform(size=lead + (1,)) < 0.5
    pred = np.where(pick, near, far)
    return to_format(pred, box_format), to_format(target, box_format)
