"""Multi-label mean average precision (COCO-AB's 80 classes, or any multi-hot targets)."""

import evaluate
import torch

from luab_hf.evaluate_modules import CITATION, MULTI_LABEL
from luab_hf.metrics import mean_average_precision

_DESCRIPTION = """Mean over classes of the average precision of each class's scores (the mean precision at the
rank of each positive), over the classes with at least one positive row."""
_KWARGS = """
Args:
    predictions: each row's score (logit or probability) for every class.
    references: each row's multi-hot targets (0 or 1 per class).
Returns:
    mAP: the mean average precision (NaN when no class has a positive).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class MeanAveragePrecision(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(description=_DESCRIPTION, citation=CITATION, inputs_description=_KWARGS,
                                   features=MULTI_LABEL)

    def _compute(self, predictions, references):
        return {"mAP": mean_average_precision(torch.tensor(predictions), torch.tensor(references))}
