"""Point error: mean distance between predicted and annotated clicks (normalised coordinates)."""

import evaluate
import torch

from luab_hf.evaluate_modules import CITATION, POINTS, valid_rows
from luab_hf.metrics import point_error

_DESCRIPTION = """Mean Euclidean distance, in normalised image coordinates ([0, 1] on each axis), between
the model's predicted click (`point_predictions`) and the annotators' click, over the rows that have one."""
_KWARGS = """
Args:
    predictions: (x, y) per row, normalised to the image.
    references: (x, y) per row, normalised to the image.
    valid: whether each row has an annotated click (default: all); rows without one are left out.
Returns:
    point_error: the mean distance (NaN when no row is valid).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class PointError(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(description=_DESCRIPTION, citation=CITATION, inputs_description=_KWARGS,
                                   features=POINTS)

    def _compute(self, predictions, references, valid=None):
        valid = valid_rows(valid, len(predictions))
        return {"point_error": point_error(torch.tensor(predictions), torch.tensor(references), valid)}
