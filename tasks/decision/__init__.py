"""The decision: recorded with the endorsement and the letter when an application reaches a final
stage, or requested early by a coordinator."""

from tasks.decision.decisions import record_decision, request_decision

__all__ = ["record_decision", "request_decision"]
