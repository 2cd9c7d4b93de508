"""The pruning core: layer graph, plans, masks, targets, context, pruner registry, slimming."""
