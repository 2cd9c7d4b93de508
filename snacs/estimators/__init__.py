"""Information estimators used to score connections between layers.

``snacs.estimators.edge`` is SNACS's hashed (conditional) mutual-information estimator;
``snacs.estimators.geometric`` is MINT's conditional geometric mutual information.
Leaves of the dependency graph: they know nothing of models, pruners or the workflow.
"""
