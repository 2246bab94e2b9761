"""Multi-label F1, micro and macro, at a threshold on the sigmoid of the logits."""

import evaluate
import torch

from luab_hf.evaluate_modules import CITATION, MULTI_LABEL
from luab_hf.metrics import multilabel_f1

_DESCRIPTION = """F1 of multi-label predictions `sigmoid(logit) >= threshold`: micro (over every row and class)
and macro (the mean over the classes with at least one positive)."""
_KWARGS = """
Args:
    predictions: each row's logit for every class.
    references: each row's multi-hot targets (0 or 1 per class).
    threshold: the probability at which a class counts as predicted (default 0.5).
Returns:
    f1_micro, f1_macro.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class MultilabelF1(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(description=_DESCRIPTION, citation=CITATION, inputs_description=_KWARGS,
                                   features=MULTI_LABEL)

    def _compute(self, predictions, references, threshold=0.5):
        return multilabel_f1(torch.tensor(predictions), torch.tensor(references), threshold)
