"""Shows the library's progress calls (``docscan.progress``) on the user's terminal.

A message (no ``done``) is printed as a line. The steps of a job (``done``/``total``)
draw a rich progress bar with the call's text beside it on a terminal; elsewhere (a log
file, a pipe, a test) each new step text is printed as a line and repeats are dropped,
so a job that reports every step with its latest loss line logs each line once.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class ProgressDisplay:
    """A ``docscan.progress.Progress`` reporter; use as a context manager around the job."""

    def __init__(self, console: Console | None = None, label: str = ""):
        self.console = console or Console()
        self.interactive = self.console.is_terminal
        self.bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                            TimeRemainingColumn(), console=self.console, disable=not self.interactive)
        self._task = None
        self._last = (None, 0)      # (total, done) of the current bar
        self._printed = ""

    def __enter__(self) -> ProgressDisplay:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def __call__(self, text: str, done: int | None = None, total: int | None = None) -> None:
        if done is None:
            self.console.print(text, markup=False)
        elif self.interactive:
            last_total, last_done = self._last
            if self._task is None or total != last_total or done < last_done:   # a new job
                self._task = self.bar.add_task("", total=total, info="")
            self.bar.update(self._task, completed=done, info=text)
            self._last = (total, done)
        elif text and text != self._printed:
            self.console.print(text, markup=False)
            self._printed = text
