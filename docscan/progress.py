"""The one way the library reports progress and messages.

A library function that has something to say takes ``progress: Progress = silent`` and
calls it: ``progress("built rootfs")`` for a message, ``progress("epoch 3", done=3,
total=20)`` for a step of a longer job. It never prints. ``docscan/commands/`` passes a
reporter that draws a rich progress bar or prints lines; tests pass a list's ``append``
wrapper or nothing.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, text: str, done: int | None = None, total: int | None = None) -> None: ...


def silent(text: str, done: int | None = None, total: int | None = None) -> None:
    """Reports nothing (the default)."""


def collect(into: list) -> Progress:
    """A reporter that appends ``(text, done, total)`` to ``into`` (for tests and callers that log)."""

    def report(text: str, done: int | None = None, total: int | None = None) -> None:
        into.append((text, done, total))

    return report
