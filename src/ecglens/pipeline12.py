"""Kept for code written against earlier releases: the 12-lead API now lives in
:mod:`ecglens.predict` (inference), :mod:`ecglens.inputs.twelve_lead` (record to model input)
and :mod:`ecglens.explain` (explanations)."""

from ecglens.explain.twelve_lead import explain_12lead
from ecglens.inputs.leads import lead_order
from ecglens.inputs.twelve_lead import prepare_12lead
from ecglens.predict.twelve_lead import Prediction12, classify_12lead

__all__ = ["Prediction12", "classify_12lead", "explain_12lead", "lead_order", "prepare_12lead"]
