"""What the evaluator works out once per rulebook (CategoryRules.derived) is never another's.

A checklist must not depend on which applications, associations or as-of dates the same rulebooks
evaluated before it: the per-rules memos (slots' roles, the best filling of the reference slots for
given raters, the wording of sets and sources) live on the rules of one association, category and
as-of date. Each cohort document is evaluated under every association at dates on either side of rule
changes: once by rulebooks loaded afresh for that association and date alone, and once by one set of
rulebooks that evaluates every case in a shuffled order. The checklists must be the same.
"""

from __future__ import annotations

import random
from datetime import date

from endorse.documents import load_document
from endorse.rulebook import load_rulebooks
from endorse.settings import PROJECT_ROOT
from tasks.eligibility.evaluation import evaluate

from ..documents import cohort_paths

AS_OF_DATES = [date(2019, 6, 30), date(2024, 1, 1), date(2026, 11, 22), date(2027, 3, 1)]


def test_a_checklist_does_not_depend_on_what_the_rulebooks_evaluated_before():
    docs = [load_document(p) for p in cohort_paths()]
    shared = load_rulebooks(PROJECT_ROOT / "rules")
    cases = [(d.model_copy(update={"association": a}), day)
             for a in shared.associations for day in AS_OF_DATES for d in docs]
    alone = {}
    for a in shared.associations:
        for day in AS_OF_DATES:
            fresh = load_rulebooks(PROJECT_ROOT / "rules")
            for i, (doc, when) in enumerate(cases):
                if doc.association == a and when == day:
                    alone[i] = evaluate(doc, fresh, day).to_dict()
    order = list(range(len(cases)))
    random.Random(17).shuffle(order)
    after_others = {i: evaluate(cases[i][0], shared, cases[i][1]).to_dict() for i in order}
    differing = [f"{cases[i][0].id} under {cases[i][0].association} on {cases[i][1]}"
                 for i in range(len(cases)) if after_others[i] != alone[i]]
    assert not differing, differing[:5]
    assert len(shared.associations) >= 3 and len(cases) >= 300
    # The memos were used: the shared rulebooks hold derived entries for more than one association.
    used = {r.association for r in shared._cache.values() if r.derived}
    assert len(used) >= 3
