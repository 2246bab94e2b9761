"""Attention alignment: the pointing game between a model's class-map peak and the annotators' click."""

import datasets
import evaluate
import torch

from luab_hf.metrics import POINTING_TOLERANCE, attention_alignment

_DESCRIPTION = """The fraction of rows whose class-map peak (the cell where the model's evidence for the class
is strongest, `luab_hf.metrics.cam_peaks`) lies within `tolerance` of the annotators' click, in normalised
image coordinates: does the model look where people clicked?"""
_KWARGS = f"""
Args:
    predictions: (x, y) of each row's class-map peak, normalised to the image.
    references: (x, y) of each row's annotated click, normalised to the image.
    valid: whether each row has an annotated click (default: all).
    tolerance: the radius of a hit (default {POINTING_TOLERANCE}).
Returns:
    attention_alignment: the fraction of valid rows hit (NaN when none is valid).
"""
_CITATION = """@inproceedings{han2023neglected, title={Neglected Free Lunch - Learning Image Classifiers Using
Annotation Byproducts}, author={Han, Dongyoon and Choe, Junsuk and Chun, Seonghyeok and others}, booktitle={ICCV}, year={2023}}"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class AttentionAlignment(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        point = datasets.Sequence(datasets.Value("float32"), length=2)
        return evaluate.MetricInfo(description=_DESCRIPTION, citation=_CITATION, inputs_description=_KWARGS,
                                   features=datasets.Features({"predictions": point, "references": point}))

    def _compute(self, predictions, references, valid=None, tolerance=POINTING_TOLERANCE):
        valid = torch.ones(len(predictions), dtype=torch.bool) if valid is None else torch.tensor(valid, dtype=torch.bool)
        value = attention_alignment(torch.tensor(predictions), torch.tensor(references), valid, tolerance)
        return {"attention_alignment": value}
