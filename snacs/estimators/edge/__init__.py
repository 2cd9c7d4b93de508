"""EDGE (Noshad, Zeng, Hero 2019): hashed mutual information and its conditional readings.

SNACS scores a connection by the conditional mutual information I(X;Y|Z) of a child
group X, a parent group Y and the other parents Z. EDGE estimates it in one of three
readings, chosen by ``EdgeOptions.method``:

* ``direct`` (the default, the published SNACS reading): hash X, Y and Z and count the
  collisions once;
* ``chain``: I(X;[Y,Z]) - I(X;Z), two plain EDGE estimates, clipped at 0;
* ``residual``: partial Z out of X and Y by ridge least squares and estimate the
  residuals' MI (by default summed over their canonical pairs).

Every field of :class:`EdgeOptions` and its default is described on that class; a call
such as ``edge_cmi_matrix(child, parents, groups, parent_groups)`` with no options
computes the published reading. The modules inside are the estimator's parts: hashing
(bucket ids), bandwidth (the k-NN width rule), projection (random projections of wide
blocks), estimates (collision counts into estimates), residual (the partialling),
second_pass (EDGE's second bandwidth pass) and compiled (the CPU kernels).
"""

from snacs.estimators.edge.estimator import (
    edge_cmi,
    edge_cmi_groups,
    edge_cmi_matrix,
    edge_mi,
    warm_up,
)
from snacs.estimators.edge.options import EdgeOptions

__all__ = ["EdgeOptions", "edge_cmi", "edge_cmi_groups", "edge_cmi_matrix", "edge_mi", "warm_up"]
