"""Top-k correct counts, summed over a batch so evaluation loops can accumulate them.

Counts (not ratios) are returned so that batches of different sizes, and shards on
several processes, can be added exactly before dividing once at the end.
"""

import torch
from torch import Tensor


def topk_correct(logits: Tensor, targets: Tensor, ks: tuple[int, ...] = (1, 5)) -> dict[int, int]:
    """Number of samples whose target is among the ``k`` highest logits, for each ``k``.

    ``k`` larger than the number of classes is clipped (every sample is then correct), so
    top-5 on a 3-class demo dataset is defined instead of raising inside ``topk``.
    """
    num_classes = logits.shape[-1]
    largest_k = min(max(ks), num_classes)
    with torch.no_grad():
        ranked = logits.topk(largest_k, dim=-1).indices
        hits = ranked == targets.unsqueeze(-1)
        return {k: int(hits[..., : min(k, num_classes)].any(dim=-1).sum()) for k in ks}
