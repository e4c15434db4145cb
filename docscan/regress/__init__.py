"""Latency regression checks for CI: committed baselines, a noise-aware gate, per-op diffs,
and a deterministic (instruction-count) mode.

    docscan bench MODEL --device D --baseline FILE --update-baseline [--deterministic]
    docscan bench MODEL --device D --baseline FILE --check [--deterministic] [--tolerance T]

Modules: ``baseline`` (the file: schema, model identity, set-up, atomic update), ``gate``
(measure, compare, decide: ``check`` returns a ``Verdict``, ``update`` writes a baseline),
``verdict`` (a verdict's JSON and PNG), ``instructions`` + ``qemu_plugin`` (deterministic
counts), ``yardstick`` (the reference workload timed interleaved with the model), ``demo``
(deliberately slower models). The command line is ``docscan/commands/bench_gate.py``.
"""
