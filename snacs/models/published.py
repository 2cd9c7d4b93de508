"""Published CIFAR-10 checkpoints the dense step can start from instead of training.

A checkpoint is more than its weights: the network it fits (architecture and variant
knobs), how its publisher normalised the inputs (which then belongs to the model, not to
the dataset: a model trained on ImageNet-normalised CIFAR images loses about 0.5 pp when
fed CIFAR-normalised ones), how its state-dict keys are laid out (``DataParallel``'s
``module.`` prefix, ``linear.`` for our ``fc.``, BatchNorm counters absent from files saved
before torch 0.4.1), its hash and the top-1 its publisher reports. Each entry of
``CHECKPOINTS`` holds all of it, so loading is one call and every caller agrees.

Files are read on the CPU (several were saved with their tensors on a CUDA device) and
without executing pickled code; the file's sha256 is checked before it is parsed. Where a
publisher gives only the leading hex digits of the hash in the file name (torch hub's
convention, as chenyaofo does), those digits are what is checked.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from snacs.errors import CheckpointError, ConfigError
from snacs.io import load_checkpoint, load_state_dict_strict
from snacs.registry import Registry

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Normalisation:
    """Per-channel mean and std the model's inputs were normalised with, ``(x - mean) / std``."""

    mean: tuple[float, ...]
    std: tuple[float, ...]


@dataclass(frozen=True)
class KeyLayout:
    """How a publisher's file maps onto our state dict.

    ``entry`` is the dict entry holding the weights (None: the file is the state dict);
    ``strip_prefix`` is removed from every key that starts with it; ``renames`` are
    (regular expression, replacement) pairs applied in order; ``batch_counters`` adds the
    BatchNorm ``num_batches_tracked`` counters a file lacks (as zero, their initial value:
    they only matter when training with ``momentum=None``).
    """

    entry: str | None = None
    strip_prefix: str = ""
    renames: tuple[tuple[str, str], ...] = ()
    batch_counters: bool = False

    def state_dict(self, payload: Any, source: str) -> dict[str, Tensor]:
        """The weights of ``payload`` under our key names (strict matching comes after)."""
        state = payload
        if self.entry is not None:
            if not isinstance(payload, dict) or self.entry not in payload:
                raise CheckpointError(f"checkpoint {source} has no {self.entry!r} entry")
            state = payload[self.entry]
        if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
            raise CheckpointError(f"checkpoint {source} does not hold a state dict of tensors")
        mapped = {}
        for key, value in state.items():
            key = key.removeprefix(self.strip_prefix)
            for pattern, replacement in self.renames:
                key = re.sub(pattern, replacement, key)
            mapped[key] = value
        if self.batch_counters:
            for key in [k for k in mapped if k.endswith(".running_mean")]:
                counter = key.removesuffix("running_mean") + "num_batches_tracked"
                mapped.setdefault(counter, torch.tensor(0, dtype=torch.long))
        return mapped


@dataclass(frozen=True)
class PublishedCheckpoint:
    """One published checkpoint: where it lives, what it fits, what its publisher measured."""

    name: str
    publisher: str
    url: str
    #: the file's sha256: the whole hex digest, or its leading digits when that is all
    #: the publisher gives
    sha256: str
    arch: str
    #: the architecture's knobs the weights need (compared with the configured ones)
    knobs: Mapping[str, Any]
    normalisation: Normalisation
    layout: KeyLayout
    #: the publisher's top-1 (%) on the dataset's test split of ``test_images`` images
    top1: float
    dataset: str = "cifar10"
    num_classes: int = 10
    test_images: int = 10_000
    licence: str = field(default="", compare=False)

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


CHECKPOINTS: Registry[PublishedCheckpoint] = Registry("published checkpoint")

_AKAMASTER = "https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models"
_AKAMASTER_LAYOUT = KeyLayout(
    entry="state_dict",
    strip_prefix="module.",
    renames=((r"^linear\.", "fc."),),
    batch_counters=True,
)
# (depth, sha256, publisher's test error %) from the repository's README
_AKAMASTER_FILES = (
    (20, "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8", 8.27),
    (32, "d509ac1820d7f25398913559d7e81a13229b1e7adc5648e3bfa5e22dc137f850", 7.37),
    (44, "014dd6541728a1c700b1642ab640e211dc6eb8ed507d70697458dc8f8a0ae2e4", 6.90),
    (56, "4bfd97631478d6b638d2764fd2baff3edb1d7d82252d54439343b6596b9b5367", 6.61),
)
for _depth, _sha256, _error in _AKAMASTER_FILES:
    CHECKPOINTS.register(f"akamaster_resnet{_depth}")(
        PublishedCheckpoint(
            name=f"akamaster_resnet{_depth}",
            publisher="akamaster/pytorch_resnet_cifar10",
            url=f"{_AKAMASTER}/resnet{_depth}-{_sha256[:8]}.th",
            sha256=_sha256,
            arch="resnet_cifar",
            knobs={"depth": _depth, "width_mult": 1.0, "shortcut": "A"},
            normalisation=Normalisation(IMAGENET_MEAN, IMAGENET_STD),
            layout=_AKAMASTER_LAYOUT,
            top1=round(100.0 - _error, 2),
            licence="BSD-2-Clause",
        )
    )

_CHENYAOFO = "https://github.com/chenyaofo/pytorch-cifar-models/releases/download"
# The statistics of chenyaofo/image-classification-codebase's conf/cifar10.conf.
_CHENYAOFO_NORMALISATION = Normalisation((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
CHECKPOINTS.register("chenyaofo_resnet56")(
    PublishedCheckpoint(
        name="chenyaofo_resnet56",
        publisher="chenyaofo/pytorch-cifar-models",
        url=f"{_CHENYAOFO}/resnet/cifar10_resnet56-187c023a.pt",
        sha256="187c023a",
        arch="resnet_cifar",
        knobs={"depth": 56, "width_mult": 1.0, "shortcut": "B"},
        normalisation=_CHENYAOFO_NORMALISATION,
        # their blocks call the option-B shortcut ``downsample`` and the ReLUs hold no weights
        layout=KeyLayout(renames=((r"\.downsample\.", ".shortcut."),)),
        top1=94.37,
        licence="BSD-3-Clause",
    )
)
CHECKPOINTS.register("chenyaofo_vgg16_bn")(
    PublishedCheckpoint(
        name="chenyaofo_vgg16_bn",
        publisher="chenyaofo/pytorch-cifar-models",
        url=f"{_CHENYAOFO}/vgg/cifar10_vgg16_bn-6ee7ea24.pt",
        sha256="6ee7ea24",
        arch="vgg16_cifar",
        knobs={"width_mult": 1.0, "classifier": "dropout"},
        normalisation=_CHENYAOFO_NORMALISATION,
        layout=KeyLayout(),  # features.N and classifier.{0,3,6}, as ours
        top1=94.16,
        licence="BSD-3-Clause",
    )
)


def published_checkpoint(name: str) -> PublishedCheckpoint:
    """The registry entry ``name``; an unknown name lists the registered ones."""
    return CHECKPOINTS.get(name)


def checkpoint_of(knobs: Mapping[str, Any]) -> PublishedCheckpoint | None:
    """The published checkpoint a model's knobs name, or None (ResNet-50's boolean
    ``pretrained`` names torchvision's weights, not an entry here)."""
    name = knobs.get("pretrained")
    return published_checkpoint(name) if isinstance(name, str) else None


def load_published(
    model: nn.Module,
    name: str,
    weights_path: str | None,
    arch: str,
    knobs: Mapping[str, Any],
) -> None:
    """Load checkpoint ``name`` into ``model`` (built as ``arch`` with ``knobs``), in place.

    The file is ``weights_path`` when given (offline use), else the publisher's file in
    torch hub's cache, downloaded there first when absent.
    """
    entry = published_checkpoint(name)
    _check_fits(entry, arch, knobs)
    path = Path(weights_path) if weights_path is not None else _cached_file(entry)
    if not path.is_file():
        raise CheckpointError(
            f"weights file {path} of checkpoint {name} does not exist; download it from "
            f"{entry.url} and save it there"
        )
    check_sha256(path, entry)
    state = entry.layout.state_dict(load_checkpoint(path), str(path))
    load_state_dict_strict(model, state, str(path))


def check_sha256(path: Path, entry: PublishedCheckpoint) -> None:
    """Raise CheckpointError unless the file's sha256 starts with the published digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    actual = digest.hexdigest()
    if not actual.startswith(entry.sha256.lower()):
        raise CheckpointError(
            f"weights file {path} has sha256 {actual}, but checkpoint {entry.name} has "
            f"{entry.sha256}: it is damaged or another file; download it again from {entry.url}"
        )


def _check_fits(entry: PublishedCheckpoint, arch: str, knobs: Mapping[str, Any]) -> None:
    if entry.arch != arch:
        raise ConfigError(
            f"model knob pretrained: checkpoint {entry.name} is a {entry.arch}, not a {arch}"
        )
    wrong = [
        f"{key}={value!r} (configured {knobs.get(key)!r})"
        for key, value in entry.knobs.items()
        if knobs.get(key) != value
    ]
    if wrong:
        raise ConfigError(
            f"model knob pretrained: checkpoint {entry.name} needs {', '.join(wrong)}"
        )


def _cached_file(entry: PublishedCheckpoint) -> Path:
    """The publisher's file in torch hub's checkpoint cache, downloaded when absent."""
    path = Path(torch.hub.get_dir()) / "checkpoints" / entry.filename
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(entry.url, str(path), progress=True)
    except Exception as exc:  # URLError, socket/SSL and HTTP errors
        raise CheckpointError(
            f"could not download checkpoint {entry.name} ({type(exc).__name__}: {exc}) from "
            f"{entry.url}; without network access, download it elsewhere and place it at "
            f"{path}, or set the model knob weights_path to the file"
        ) from exc
    return path


__all__ = [
    "CHECKPOINTS",
    "KeyLayout",
    "Normalisation",
    "PublishedCheckpoint",
    "check_sha256",
    "checkpoint_of",
    "load_published",
    "published_checkpoint",
]
