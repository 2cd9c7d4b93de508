"""Wall-time requests for cluster jobs, sized from what the config asks each job to do.

A scheduler kills a job at its time limit, and a generous fixed limit wastes queue
priority, so the workflow asks for time in proportion to the work: epochs for training
jobs, timed calls for the speed study. The per-unit costs below are deliberately high
estimates (a 2x margin is added on top); a site can still override any rule's
``runtime`` in its profile.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# Minutes per training epoch on one current GPU (dataset -> minutes), rounded up:
# CIFAR-10 models run an epoch in well under a minute, a ResNet-50 ImageNet epoch in
# 30-60 minutes depending on the GPU and the file system.
EPOCH_MINUTES = {"cifar10": 1.0, "imagenet": 60.0, "mnist": 0.3, "digits": 0.05}
UNKNOWN_DATASET_EPOCH_MINUTES = 60.0
# Evaluation, latency and start-up of a training job.
JOB_OVERHEAD_MINUTES = 30
# Seconds of one scoring call at 256 x 256 groups of VGG16 conv9 (N = 2000), measured on
# a 2-core CPU (the speed study, docs/reproducing.md); cost grows with the square of the groups.
MINT_SECONDS_AT_256 = 610.0
SNACS_SECONDS_AT_256 = 8.0
MARGIN = 2.0


def training_minutes(spec: Mapping[str, Any], recipe: Mapping[str, Any] | None) -> int:
    """Minutes to request for a dense or fine-tuning job of ``recipe`` (None: no training)."""
    epochs = recipe["epochs"] if recipe else 0
    per_epoch = EPOCH_MINUTES.get(spec["dataset"]["name"], UNKNOWN_DATASET_EPOCH_MINUTES)
    return math.ceil(MARGIN * epochs * per_epoch) + JOB_OVERHEAD_MINUTES


def speed_study_minutes(section: Mapping[str, Any]) -> int:
    """Minutes to request for the speed study of a ``studies.speed`` config section."""
    snacs = sum((g / 256) ** 2 for g in section["groups"]) * SNACS_SECONDS_AT_256
    mint = sum((g / 256) ** 2 for g in section["mint_groups"]) * MINT_SECONDS_AT_256
    seconds = section["reruns"] * len(section["phis"]) * snacs + section["mint_reruns"] * mint
    return math.ceil(MARGIN * seconds / 60) + JOB_OVERHEAD_MINUTES
