"""`vla-ros` subcommands: each module has `register(subparsers)` and sets `func`."""
