"""The ``endorse`` command groups, one module each (``endorse <group> <verb>``, as Prefect's own CLI).

Each module imports only the standard library, Typer and its siblings' helpers at the top; the
database, Prefect and the web stack are imported inside the command that needs them, so that
``endorse evaluate`` and ``endorse renewal`` start without them.
"""
