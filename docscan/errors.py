"""The one exception type a user sees: a one-line message, never a traceback."""


class DocscanError(Exception):
    """A user-facing failure (bad file, impossible knob, missing device).

    The CLI prints ``error: <message>`` on one line and exits non-zero.
    Messages name the file or the parameter and the problem.
    """

    exit_code = 2
