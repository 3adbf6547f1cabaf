"""Renewal: the yearly checklist of a renewal document (pure), notices before the due date, lapse after
the grace period, and a renewal recorded.

The verbs load on first use (PEP 562): ``endorse renewal PATH`` must start without the database that
the notices and records need."""

from __future__ import annotations

from tasks import lazy_verbs

_VERBS = {
    "evaluate_renewal": "evaluation",
    "renewal_to_dict": "evaluation",
    "send_renewal_notices": "renewals",
    "lapse_unrenewed": "renewals",
    "record_renewal": "renewals",
}

__all__ = sorted(_VERBS)

__getattr__ = lazy_verbs(__name__, _VERBS)
