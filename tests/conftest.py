"""Shared fixtures: small real models from the registry, on CPU, with one torch thread.

One thread keeps the many tiny forward passes fast on a shared 2-core CI machine.
"""

import sys
from pathlib import Path

import pytest
import torch

from snacs.models import build_model


@pytest.fixture(autouse=True, scope="session")
def _single_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def randomise_norms(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give BatchNorm layers non-trivial statistics, so masking bugs change outputs."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            shape = module.running_mean.shape
            module.running_mean.copy_(torch.randn(shape, generator=generator))
            module.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)
            module.weight.data.copy_(torch.randn(shape, generator=generator))
            module.bias.data.copy_(torch.randn(shape, generator=generator))
    return model.eval()


SMALL_MODELS = {
    "vgg": ("vgg16_cifar", {"width_mult": 0.125}, (3, 32, 32)),
    "resnet": ("resnet_cifar", {"depth": 20, "width_mult": 0.5}, (3, 32, 32)),
    "mlp": ("mlp_mnist", {"in_features": 64, "hidden": [32, 16]}, (64,)),
}


@pytest.fixture(params=sorted(SMALL_MODELS))
def small_model(request):
    """(model, input_shape) for each small architecture, with randomised norms."""
    arch, knobs, shape = SMALL_MODELS[request.param]
    torch.manual_seed(0)
    return randomise_norms(build_model(arch, 10, **knobs)), shape


def snakemake_command(workdir: Path, config: Path, *args: str) -> list[str]:
    """The repository's workflow run from ``workdir`` with ``config`` (no --cores implied)."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(Path(__file__).resolve().parents[1] / "Snakefile"),
        "--directory",
        str(workdir),
        f"--configfile={config}",
        *args,
    ]
