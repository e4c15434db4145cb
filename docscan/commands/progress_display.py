"""The one place the library's progress calls (``docscan.progress``) meet the user's terminal.

Every command that runs a long job passes a ``ProgressDisplay`` as the library's
``progress``. A message (no ``total``) is printed as a line. The steps of a job
(``done``/``total``) move a rich progress bar with the call's text as its description on a
terminal; a new bar starts when the last one reached its total, the total changes or the
count goes back. Elsewhere (a log file, a pipe, a test) each new step text is printed as a
line once, so a job that reports its latest loss with every step logs each line once.
Nothing is drawn before the first call, so a command that fails early prints only its error.
"""

from __future__ import annotations

from rich.console import Console


class ProgressDisplay:
    """A ``docscan.progress.Progress`` reporter; use as a context manager around the job.

    ``stderr``: keep stdout for the command's result (tables, JSON); ``transient``: bars
    vanish once done; ``enabled=False`` shows nothing (``--quiet``).
    """

    def __init__(self, enabled: bool = True, *, stderr: bool = False, transient: bool = False,
                 console: Console | None = None):
        self.enabled = enabled
        self.console = console or Console(stderr=stderr)
        self.interactive = self.console.is_terminal
        self.transient = transient
        self.bar = None
        self._task = None
        self._last: tuple[int | None, int] = (None, 0)     # (total, done) of the current bar
        self._printed = ""

    def __enter__(self) -> ProgressDisplay:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def __call__(self, text: str, done: int | None = None, total: int | None = None) -> None:
        if not self.enabled:
            return
        if total is None:
            self.console.print(text, markup=False, highlight=False)
        elif self.interactive:
            self._step(text, done or 0, total)
        elif text and text != self._printed:
            self.console.print(text, markup=False, highlight=False)
            self._printed = text

    def _step(self, text: str, done: int, total: int) -> None:
        if self.bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=self.console, transient=self.transient)
            self.bar.start()
        last_total, last_done = self._last
        if self._task is None or total != last_total or done < last_done or last_done >= (last_total or 0):
            self._task = self.bar.add_task(text, total=total)
        self.bar.update(self._task, description=text, completed=done, total=total)
        self._last = (total, done)
