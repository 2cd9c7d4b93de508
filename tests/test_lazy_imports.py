"""Short workflow steps do not pay for torchvision unless their dataset or model needs it.

Importing torchvision (and the torch._dynamo it pulls in) costs over a second per process,
and the demo runs hundreds of short step processes, most on data that never touch it.
"""

import subprocess
import sys

from snacs.data import DATASETS, dataset_names
from snacs.models import model_names

STEP_IMPORTS = (
    "import snacs.cli, snacs.data, snacs.models, snacs.pipeline.prune, "
    "snacs.pipeline.finetune, snacs.pipeline.evaluate, snacs.pipeline.batches"
)


def test_step_modules_and_digits_load_without_torchvision(tmp_path):
    code = (
        f"{STEP_IMPORTS}\n"
        "import sys\n"
        "from snacs.data import load_dataset\n"
        "from snacs.models import build_model\n"
        f"load_dataset('digits', root={str(tmp_path)!r})\n"
        "build_model('mlp_mnist', 10, in_features=64, hidden=[32])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'torchvision')\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_lazily_registered_loaders_are_listed_and_load_on_first_use():
    assert {"cifar10", "mnist", "imagenet", "digits"} <= set(dataset_names())
    assert "resnet50" in model_names()
    loader = DATASETS.get("cifar10")
    assert loader.__module__ == "snacs.data.cifar"
