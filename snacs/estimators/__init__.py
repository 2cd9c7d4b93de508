"""Information estimators used to score connections between layers.

Leaves of the dependency graph: they know nothing of models, pruners or the workflow.
"""

from snacs.estimators.edge import edge_cmi, edge_cmi_groups, edge_cmi_matrix, edge_mi
from snacs.estimators.edge_options import EdgeOptions
from snacs.estimators.gaussian import gaussian_cmi_bits, random_gaussian_cmi_case

__all__ = [
    "EdgeOptions",
    "edge_cmi",
    "edge_cmi_groups",
    "edge_cmi_matrix",
    "edge_mi",
    "gaussian_cmi_bits",
    "random_gaussian_cmi_case",
]
