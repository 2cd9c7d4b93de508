"""Per-layer progress of long scoring steps, with an ETA, so a long run is never silent.

Scoring a ResNet50 layer by layer can take hours; a bar per step (layers done, elapsed,
estimated time left) goes to stderr, which the workflow's logs capture.
"""

from __future__ import annotations

from tqdm import tqdm


def layer_progress(total: int, step: str, enabled: bool = True) -> tqdm:
    """A bar ``step: done/total layers [elapsed<left]``; call ``update(1)`` per layer."""
    return tqdm(
        total=total,
        desc=step,
        unit="layer",
        disable=not enabled,
        mininterval=1,
        dynamic_ncols=True,
    )
