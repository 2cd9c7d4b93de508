"""ImageNet (ILSVRC2012) from an ImageFolder tree, parsed by torchvision.

Transforms follow the standard ResNet recipe: RandomResizedCrop and flips for training;
for evaluation a resize to 256/224 of the crop size, then a centre crop. ``image_size``
scales both, so the demo can run the same pipeline on small images. An image that cannot
be decoded fails with its path, wherever it is first read.
"""

from pathlib import Path

from PIL import Image
from torchvision import transforms
from torchvision.datasets import ImageFolder

from snacs.data.bundle import DATASETS, DatasetBundle, TransformedView
from snacs.data.jpeg_batches import JpegSplits
from snacs.errors import ConfigError, CorruptDataError, DatasetNotFoundError, SnacsError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@DATASETS.register("imagenet")
def load_imagenet(root: Path, download: bool = False, image_size: int = 224) -> DatasetBundle:
    """ImageNet from ``root/train/<wnid>/`` and ``root/val/<wnid>/``.

    ``download`` is accepted for a uniform interface but cannot help: ImageNet is
    distributed only after registration, so a missing tree is reported with the steps
    to prepare it.
    """
    if image_size < 8:
        raise ConfigError(f"image_size: must be at least 8 pixels, got {image_size}")
    normalize = transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    train_transform = transforms.Compose(
        [
            transforms.RandomResizedCrop(image_size),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            normalize,
        ]
    )
    eval_transform = transforms.Compose(
        [
            transforms.Resize(round(image_size * 256 / 224)),
            transforms.CenterCrop(image_size),
            transforms.ToTensor(),
            normalize,
        ]
    )
    train_base = _open_split(root, "train")
    val_base = _open_split(root, "val")
    if train_base.classes != val_base.classes:
        only_train = sorted(set(train_base.classes) - set(val_base.classes))
        only_val = sorted(set(val_base.classes) - set(train_base.classes))
        raise SnacsError(
            f"ImageNet at {root}: train/ and val/ must hold the same class folders, or the "
            f"labels of the two splits disagree; only in train/: {only_train[:5]}, only in "
            f"val/: {only_val[:5]}. {_LAYOUT}"
        )
    return DatasetBundle(
        name="imagenet",
        num_classes=len(train_base.classes),
        input_shape=(3, image_size, image_size),
        train=TransformedView(train_base, train_transform),
        train_eval=TransformedView(train_base, eval_transform),
        test=TransformedView(val_base, eval_transform),
        train_targets=list(train_base.targets),
        class_names=list(train_base.classes),
        files=tuple(Path(path) for path, _ in train_base.samples + val_base.samples),
        jpeg=JpegSplits(
            train_base.samples, val_base.samples, image_size, IMAGENET_MEAN, IMAGENET_STD
        ),
    )


def read_rgb_image(path: str) -> Image.Image:
    """Decode one image file as RGB; a damaged or truncated file is named in the error."""
    try:
        with open(path, "rb") as handle:
            image = Image.open(handle)
            return image.convert("RGB")
    except (OSError, SyntaxError, ValueError) as exc:  # PIL's errors for broken files
        raise CorruptDataError(f"image {path} cannot be decoded ({exc})") from exc


_LAYOUT = (
    "Expected layout: <root>/train/<wnid>/*.JPEG and <root>/val/<wnid>/*.JPEG, one folder "
    "per class named by its WordNet id (e.g. n01440764). Extract ILSVRC2012_img_train.tar "
    "and its per-class tars into train/; ILSVRC2012_img_val.tar unpacks into one flat "
    "folder, so move every validation image into its class folder using the devkit's "
    "ground-truth labels (the common valprep.sh script does this). ImageNet cannot be "
    "downloaded automatically (registration at https://image-net.org is required)."
)


def _open_split(root: Path, split: str) -> ImageFolder:
    folder = root / split
    if not folder.is_dir():
        raise DatasetNotFoundError(f"ImageNet not found: {folder} does not exist. {_LAYOUT}")
    try:
        return ImageFolder(str(folder), loader=read_rgb_image)
    except FileNotFoundError as exc:  # no class folders, or class folders without images
        raise DatasetNotFoundError(f"ImageNet at {folder} is not usable: {exc}. {_LAYOUT}") from exc
