"""What `docscan bench` shows while it works: the library's progress calls as rich bars.

A call with ``total`` moves the current bar (a new one starts once the last has reached
its total); a call without is a message line above the bars. Nothing is drawn until the
first call, so a command that fails early prints only its error.
"""

from __future__ import annotations


class BarDisplay:
    """A ``docscan.progress.Progress`` drawing rich bars; use as a context manager."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.bar = None
        self.task = None
        self.open = False       # the current task has not reached its total

    def __enter__(self) -> BarDisplay:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
            self.bar = None

    def __call__(self, text: str, done: int | None = None, total: int | None = None) -> None:
        if not self.enabled:
            return
        bar = self._bar()
        if total is None:
            bar.console.print(text)
            return
        if self.task is None or not self.open:
            self.task = bar.add_task(text, total=total)
        bar.update(self.task, description=text, completed=done or 0, total=total)
        self.open = (done or 0) < total

    def _bar(self):
        if self.bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), transient=False)
            self.bar.__enter__()
        return self.bar
