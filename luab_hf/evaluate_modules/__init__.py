"""What LUAB's ``evaluate`` modules share; each module's own folder holds what ``evaluate.load``
reads (``<name>/<name>.py`` and its metric card), and imports this."""

from __future__ import annotations

from collections.abc import Sequence

import datasets
import torch

#: Inputs of the point metrics: an (x, y) per row, normalised to the image.
POINTS = datasets.Features({"predictions": datasets.Sequence(datasets.Value("float32"), length=2),
                            "references": datasets.Sequence(datasets.Value("float32"), length=2)})
#: Inputs of the multi-label metrics: a score per class, and multi-hot targets.
MULTI_LABEL = datasets.Features({"predictions": datasets.Sequence(datasets.Value("float32")),
                                 "references": datasets.Sequence(datasets.Value("int32"))})
CITATION = """@inproceedings{han2023neglected, title={Neglected Free Lunch - Learning Image Classifiers Using
Annotation Byproducts}, author={Han, Dongyoon and Choe, Junsuk and Chun, Seonghyeok and others}, booktitle={ICCV}, year={2023}}"""


def valid_rows(valid: Sequence[bool] | None, rows: int) -> torch.Tensor:
    """The rows with an annotated click (all, when ``valid`` is not given)."""
    return torch.ones(rows, dtype=torch.bool) if valid is None else torch.tensor(valid, dtype=torch.bool)
