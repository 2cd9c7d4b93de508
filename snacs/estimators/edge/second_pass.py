"""EDGE's second bandwidth pass: bucket widths rescaled by the first estimate.

The reference EDGE code (v4.4.1, option ``normalize_epsilon``, on by default there)
estimates once, then multiplies its smoothness factor by 2^(-sqrt(2 I) + 0.5 / I), with
I the first estimate in bits, and estimates again. Strong dependence (large I) narrows
the buckets, so a sharp dependence is no longer smeared over wide cells, which is what
makes a one-pass estimate read far below a true 1 bit; weak dependence (small I) widens
them, pulling an estimate made of sparse-cell noise towards zero. The reference's
recursive call applies its 0.4 smoothness scaling a second time, so the widths of the
second pass are the first pass's times 0.4 * 2^(-sqrt(2 I) + 0.5 / I); this module
keeps that.

Many (child group, parent group) pairs of one layer are scored together, and each pair
would get its own widths. Factors are therefore rounded to quarter powers of two
(levels) and clipped to [2^-8, 2^8]: pairs of one level share one hashing, and a scalar
call gives the same estimate as its matrix entry. Quarter-power steps (19 % in width)
sit within the spread of the ensemble's own bandwidths; beyond 2^8 every sample already
falls in one or two buckets.
"""

import math

import torch
from torch import Tensor

from snacs.estimators.edge.options import LOWER_CLIP_BITS

LEVELS_PER_OCTAVE = 4
LOWEST_LEVEL = -8 * LEVELS_PER_OCTAVE
HIGHEST_LEVEL = 8 * LEVELS_PER_OCTAVE
REPEATED_SMOOTHNESS = 0.4  # the reference's gamma scaling, applied again by its recursion


def second_pass_levels(first_estimates: Tensor) -> Tensor:
    """Width level (int64, quarter powers of two) of each first-pass estimate in bits.

    Estimates below EDGE's lower clip (0.001 bits, reachable only after a debias) are
    read as the clip, as the reference's estimates never fall below it.
    """
    bits = first_estimates.to(torch.float64).clamp_min(LOWER_CLIP_BITS)
    log2_factor = math.log2(REPEATED_SMOOTHNESS) - torch.sqrt(2.0 * bits) + 0.5 / bits
    levels = torch.round(log2_factor * LEVELS_PER_OCTAVE).to(torch.int64)
    return levels.clamp(LOWEST_LEVEL, HIGHEST_LEVEL)


def level_factor(level: int) -> float:
    """Multiplier of every bucket width at a level."""
    return 2.0 ** (level / LEVELS_PER_OCTAVE)
