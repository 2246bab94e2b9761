"""Point error: mean distance between predicted and annotated clicks (normalised coordinates)."""

import datasets
import evaluate
import torch

from luab_hf.metrics import point_error

_DESCRIPTION = """Mean Euclidean distance, in normalised image coordinates ([0, 1] on each axis), between
the model's predicted click (`point_logits`) and the annotators' click, over the rows that have one."""
_KWARGS = """
Args:
    predictions: (x, y) per row, normalised to the image.
    references: (x, y) per row, normalised to the image.
    valid: whether each row has an annotated click (default: all); rows without one are left out.
Returns:
    point_error: the mean distance (NaN when no row is valid).
"""
_CITATION = """@inproceedings{han2023neglected, title={Neglected Free Lunch - Learning Image Classifiers Using
Annotation Byproducts}, author={Han, Dongyoon and Choe, Junsuk and Chun, Seonghyeok and others}, booktitle={ICCV}, year={2023}}"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class PointError(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        point = datasets.Sequence(datasets.Value("float32"), length=2)
        return evaluate.MetricInfo(description=_DESCRIPTION, citation=_CITATION, inputs_description=_KWARGS,
                                   features=datasets.Features({"predictions": point, "references": point}))

    def _compute(self, predictions, references, valid=None):
        valid = torch.ones(len(predictions), dtype=torch.bool) if valid is None else torch.tensor(valid, dtype=torch.bool)
        return {"point_error": point_error(torch.tensor(predictions), torch.tensor(references), valid)}
