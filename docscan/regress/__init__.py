"""Latency regression checks for CI: committed baselines, a noise-aware gate, per-op diffs,
and a deterministic (instruction-count) mode.

    docscan bench MODEL --device D --baseline FILE --update-baseline [--deterministic]
    docscan bench MODEL --device D --baseline FILE --check [--deterministic] [--tolerance T]

Modules: ``baseline`` (the file: schema, model identity, set-up, atomic update), ``gate``
(measure, compare, decide), ``instructions`` + ``qemu_plugin`` (deterministic counts),
``yardstick`` (the reference workload timed interleaved with the model), ``cli``
(``cli_check``: what the bench command calls), ``demo`` (deliberately slower models).
"""


def cli_check(*args, **kwargs) -> int:
    """See ``docscan.regress.cli.cli_check``: returns the exit code (0 pass, 1 regression)."""
    from docscan.regress.cli import cli_check as impl

    return impl(*args, **kwargs)
