"""Attention alignment: the pointing game between a model's class-map peak and the annotators' click."""

import evaluate
import torch

from luab_hf.evaluate_modules import CITATION, POINTS, valid_rows
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


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class AttentionAlignment(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(description=_DESCRIPTION, citation=CITATION, inputs_description=_KWARGS,
                                   features=POINTS)

    def _compute(self, predictions, references, valid=None, tolerance=POINTING_TOLERANCE):
        valid = valid_rows(valid, len(predictions))
        value = attention_alignment(torch.tensor(predictions), torch.tensor(references), valid, tolerance)
        return {"attention_alignment": value}
