"""Training engine: recipes, device and seed handling, and the shared train/eval loop."""

from snacs.engine.batchnorm import recalibrate_batchnorm
from snacs.engine.device import resolve_device
from snacs.engine.recipe import Recipe
from snacs.engine.seed import seed_everything, seed_rngs
from snacs.engine.train import FitResult, evaluate, fit

__all__ = [
    "FitResult",
    "Recipe",
    "evaluate",
    "fit",
    "recalibrate_batchnorm",
    "resolve_device",
    "seed_everything",
    "seed_rngs",
]
