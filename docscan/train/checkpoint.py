"""A run's files: the checkpoint (weights, optimizer, state written as one set, so a kill
at any moment leaves a complete old or new set), and .keras model files in and out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from docscan.atomic import atomic_path, write_json
from docscan.errors import DocscanError
from docscan.keras_file import load_keras_model


class RunExists(DocscanError):
    """The output folder already holds a run that this call would overwrite."""


def save_checkpoint(model, optimizer, state: dict, ckpt: Path) -> None:
    """Weights, optimizer and state as one set: written into a fresh folder that then
    replaces ``ckpt`` by renames, so a kill at any moment leaves a complete old or new set."""
    partial, old = ckpt.with_name(ckpt.name + ".partial"), ckpt.with_name(ckpt.name + ".old")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    model.save_weights(str(partial / "model.weights.h5"))
    with open(partial / "optimizer.npz", "wb") as f:
        np.savez(f, *[np.asarray(v) for v in optimizer.variables])
    write_json(partial / "state.json", state)
    if ckpt.exists():
        # (with no ckpt, e.g. resumed from ckpt.old, the old set stays until the new is in place)
        shutil.rmtree(old, ignore_errors=True)
        ckpt.rename(old)
    partial.rename(ckpt)
    shutil.rmtree(old, ignore_errors=True)


def find_checkpoint(ckpt: Path) -> Path | None:
    """The complete checkpoint set: ``ckpt``, or ``ckpt.old`` after a kill between renames."""
    for d in (ckpt, ckpt.with_name(ckpt.name + ".old")):
        if (d / "state.json").is_file():
            return d
    return None


def load_checkpoint(model, optimizer, ckpt: Path) -> dict:
    """Restore ``model``'s weights and ``optimizer``'s state from the set at ``ckpt`` (or
    ``ckpt.old``); returns the saved state."""
    ckpt = find_checkpoint(ckpt) or ckpt
    try:
        state = json.loads((ckpt / "state.json").read_text())
        model.load_weights(str(ckpt / "model.weights.h5"))
        optimizer.build(model.trainable_variables)
        with np.load(ckpt / "optimizer.npz") as data:
            values = [data[f"arr_{i}"] for i in range(len(data.files))]
    except (OSError, ValueError, KeyError) as exc:
        raise DocscanError(f"{ckpt}: cannot resume from checkpoint ({exc})") from None
    if len(values) != len(optimizer.variables):
        raise DocscanError(f"{ckpt}: checkpoint does not match this model/optimizer")
    for var, val in zip(optimizer.variables, values):
        var.assign(val)
    return state


def save_model(model, path: Path) -> None:
    """``model`` as a .keras file at ``path``, atomically."""
    with atomic_path(path) as tmp:
        keras_tmp = tmp.with_name(tmp.name + ".keras")
        model.save(str(keras_tmp))
        keras_tmp.replace(tmp)


def load_model_file(path, what: str):
    """The Keras model in ``path``; every refusal reads ``PATH: WHAT (why)``."""
    try:
        return load_keras_model(path, what=what)
    except DocscanError as exc:
        why = str(exc).removeprefix(f"{path}: ")
        if why.startswith(what):
            raise
        raise DocscanError(f"{path}: {what} ({why})") from None
