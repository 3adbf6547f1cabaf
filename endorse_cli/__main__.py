"""``python -m endorse_cli``: the same command line as the ``endorse`` script."""

from endorse_cli.main import main

raise SystemExit(main())
