"""One colour and marker per method, the same in every figure of the report.

Known methods have a fixed entry; any other name (a new baseline, an ablation) gets a
colour and marker picked from its name's hash, so it too looks the same in every figure
and on every run, without editing this table.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    color: str
    marker: str


STYLES: dict[str, Style] = {
    "snacs": Style("#d62728", "o"),  # red: the method under test
    "snacs_best": Style("#ff7f0e", "o"),
    # the speed study's SNACS variants (phi = 1 and phi = mean weight)
    "snacs_phi_one": Style("#d62728", "o"),
    "snacs_phi_weight": Style("#ff9896", "D"),
    "snacs_filter": Style("#e377c2", "D"),
    "mint": Style("#1f77b4", "s"),
    "l1": Style("#2ca02c", "^"),
    "random": Style("#7f7f7f", "x"),
    "magnitude": Style("#bcbd22", "+"),
    "inverted": Style("#8c564b", "1"),
    "nisp": Style("#9467bd", "v"),
    "thinet": Style("#17becf", "<"),
    "hrank": Style("#393b79", ">"),
    "chip": Style("#637939", "p"),
    "taylor": Style("#8c6d31", "h"),
    "dense (fine-tuned)": Style("#000000", "*"),  # the unpruned reference row
}
_SPARE_COLORS = ["#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363"]
_SPARE_MARKERS = "PXd*H8"


def style_of(method: str) -> Style:
    """The method's fixed style, or a stable one derived from its name."""
    if method in STYLES:
        return STYLES[method]
    key = zlib.crc32(method.encode())
    return Style(_SPARE_COLORS[key % len(_SPARE_COLORS)], _SPARE_MARKERS[key % len(_SPARE_MARKERS)])
