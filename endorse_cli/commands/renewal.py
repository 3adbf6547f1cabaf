"""``endorse renewal check|record``, and the contract ``endorse renewal PATH --year YEAR --json``: a
renewal group whose first word, when it is not one of its verbs, is the ``check`` of a document."""

from __future__ import annotations

from typing import Annotated

import typer
from typer.core import TyperGroup

from endorse_cli.commands.checklists import renewal_check
from endorse_cli.commands.common import AsOf, By, as_of_date, coordinator, refusals, sessions_with_associations
from endorse_cli.output import EXIT_OK


class CheckByDefault(TyperGroup):
    """``endorse renewal PATH …`` is ``endorse renewal check PATH …`` (REQUIREMENTS.md's contract): a
    first word that is neither a verb of the group nor its --help goes to ``check``."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["check", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=CheckByDefault, no_args_is_help=True,
                  help="Renewals: check a renewal document (`endorse renewal PATH --year YEAR`), or record it "
                       "against the endorsement.")
app.command("check")(renewal_check)


@app.command("record")
@refusals
def record(
    path: Annotated[str, typer.Argument(metavar="PATH", help="the renewal .json document")],
    by: By, as_of: AsOf = None,
) -> int:
    """Record a renewal document against its endorsement.

    Met (renewed, next due date set), unmet (what is missing is listed), or reinstated after a lapse. Check
    it first with `endorse renewal check`.
    """
    from endorse.renewals import load_renewal
    from endorse.rulebook import default_library
    from tasks.renewal.renewals import record_renewal

    doc = load_renewal(path)
    out = record_renewal(sessions_with_associations(), doc, default_library(), as_of=as_of_date(as_of),
                         actor=coordinator(by))
    print(f"{out.endorsement_number} {out.year}: {out.status}; next renewal due {out.renewal_due_on}")
    for u in out.unmet:
        print(f"  missing: {u}")
    return EXIT_OK
