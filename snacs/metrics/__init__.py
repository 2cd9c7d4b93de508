"""Metrics computed identically for every pruning method: accuracy, counts, latency."""

from snacs.metrics.accuracy import topk_correct
from snacs.metrics.latency import measure_latency
from snacs.pruning.counting import (
    LayerCount,
    count_macs,
    count_params,
    credited_masks,
    layer_counts,
)

__all__ = [
    "LayerCount",
    "count_macs",
    "count_params",
    "credited_masks",
    "layer_counts",
    "measure_latency",
    "topk_correct",
]
