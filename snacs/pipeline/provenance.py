"""What made a result: versions, hardware, git revision, command and time.

Attached to every JSON a step writes, so a number in a table can always be traced back
to the software and machine that produced it.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from snacs.data import DatasetBundle

_PACKAGES = ("snacs", "torch", "torchvision", "torch-pruning", "numpy", "scipy", "scikit-learn")


def _git_revision() -> str | None:
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def hardware(device: torch.device | None = None) -> dict:
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
    }
    if device is not None:
        info["device"] = str(device)
        if device.type == "cuda":
            info["gpu"] = torch.cuda.get_device_name(device)
            info["cuda"] = torch.version.cuda
    return info


@dataclass(frozen=True)
class DataOrigin:
    """Which data a result was measured on, and how far its files were checked.

    ``verified`` is the loader's word: ``release`` (every file's checksum is the
    publisher's), ``layout`` (an unverified copy: structure, counts and labels checked,
    no checksum), ``synthetic``, or ``""`` where the loader checks no release.
    """

    dataset: str
    root: str
    verified: str
    train_samples: int
    test_samples: int

    @classmethod
    def of(cls, bundle: DatasetBundle, root: str) -> DataOrigin:
        return cls(bundle.name, root, bundle.verified, len(bundle.train), len(bundle.test))

    @classmethod
    def from_provenance(cls, record_provenance: dict[str, Any]) -> DataOrigin | None:
        """The origin a record's provenance holds (None for records written without one)."""
        data = record_provenance.get("data")
        return cls(**data) if data else None

    @property
    def unverified(self) -> bool:
        return self.verified == "layout"

    def label(self) -> str:
        """One phrase for a banner: what the numbers were measured on."""
        size = f"{self.train_samples:,} training / {self.test_samples:,} test images"
        if self.verified == "synthetic":
            return f"synthetic {self.dataset} ({size})"
        if self.unverified:
            return f"unverified copy of {self.dataset}: layout checked, no md5 ({size})"
        if self.verified == "release":
            return f"{self.dataset}, md5-checked release ({size})"
        return f"{self.dataset} ({size})"


def provenance(device: torch.device | None = None, data: DataOrigin | None = None) -> dict:
    """What made a result; with ``data``, also which data it was measured on."""
    made = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "python": sys.version.split()[0],
        "packages": {p: _version(p) for p in _PACKAGES},
        "git_revision": _git_revision(),
        "hardware": hardware(device),
    }
    if data is not None:
        made["data"] = asdict(data)
    return made
