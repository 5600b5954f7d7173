"""Errors a user can fix; the CLI prints them without a traceback and exits with 2."""


class UserError(Exception):
    """Bad config, missing input, refused output directory..."""


class RunError(UserError, RuntimeError):
    """The run cannot start or finish (bad output dir, broken invariant)."""
