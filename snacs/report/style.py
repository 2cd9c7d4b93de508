"""One colour and marker per method, the same in every figure of the report.

A pruner's colour and marker are class attributes beside the pruner (``color``,
``marker``), read here from the pruner registry; the table below holds only the names
that are not pruners (controls, variants, the dense row). Any other name (a baseline
without a colour, an ablation) gets a colour and marker picked from its name's hash, so
it too looks the same in every figure and on every run, without editing anything.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    color: str
    marker: str


STYLES: dict[str, Style] = {
    "snacs_best": Style("#ff7f0e", "o"),
    # the speed study's SNACS variants (phi = 1 and phi = mean weight)
    "snacs_phi_one": Style("#d62728", "o"),
    "snacs_phi_weight": Style("#ff9896", "D"),
    # controls
    "magnitude": Style("#bcbd22", "+"),
    "inverted": Style("#8c564b", "1"),
    "dense (fine-tuned)": Style("#000000", "*"),  # the unpruned reference row
}
_SPARE_COLORS = ["#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363"]
_SPARE_MARKERS = "PXd*H8"


def style_of(method: str) -> Style:
    """The method's fixed style (its pruner's, or the table's), or one from its name."""
    if method in STYLES:
        return STYLES[method]
    pruner = _pruner_style(method)
    if pruner is not None:
        return pruner
    key = zlib.crc32(method.encode())
    return Style(_SPARE_COLORS[key % len(_SPARE_COLORS)], _SPARE_MARKERS[key % len(_SPARE_MARKERS)])


@functools.cache
def _pruner_style(method: str) -> Style | None:
    from snacs.pruning.pruner import PRUNERS, load_pruner_modules

    load_pruner_modules()
    if method not in PRUNERS:
        return None
    pruner = PRUNERS.get(method)
    if pruner.color is None or pruner.marker is None:
        return None
    return Style(pruner.color, pruner.marker)
