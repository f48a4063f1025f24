"""avforge.eval: official-exact localization metrics (AP@IoU, AR@N), detection AUC, protocols, submissions.

Drop-in file API of the official ``avdeepfake1m.evaluation``: ``ap_1d``, ``ar_1d``, ``ap_ar_1d``, ``auc``.
One call for reports: ``evaluate(predictions, labels, protocol) -> MetricsReport``.
"""
from avforge.eval.compat import ap_1d, ap_ar_1d, ar_1d, auc
from avforge.eval.protocols import PROTOCOLS, MetricsReport, Protocol, evaluate
from avforge.eval.validation import validate_predictions

__all__ = ["ap_1d", "ar_1d", "ap_ar_1d", "auc", "evaluate", "MetricsReport", "Protocol", "PROTOCOLS",
           "validate_predictions"]
