"""The `docscan` command: a thin click layer over the library.

Subcommands live in ``docscan/commands/<name>.py`` (each exports ``command``) and are
imported only when called, so ``docscan --help`` does not pay TensorFlow's import time.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from docscan import __version__
from docscan.errors import DocscanError

# TensorFlow's C++ banner and oneDNN notices are noise on a user's terminal; this must be
# set before a command module imports TensorFlow, i.e. before click resolves the command.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

# name -> (module, one-line help shown in `docscan --help`)
COMMANDS = {
    "models": ("docscan.commands.models", "List every zoo architecture with parameters, MACs and size."),
    "convert": ("docscan.commands.convert", "Convert a Keras model to verified .tflite variants with a report."),
    "inspect": ("docscan.commands.inspect", "Print the op inventory of any .tflite file."),
    "bench": ("docscan.commands.bench", "Benchmark models on host, emulated ARM and phones; per-op tables."),
    "synth": ("docscan.commands.synth", "Write a fixed synthetic document set (images, edge maps, corners)."),
    "train": ("docscan.commands.train", "Train an HED edge detector on synthetic documents."),
    "train-region": ("docscan.commands.train_region",
                     "Train a new page-region head on a trained HED's frozen backbone."),
    "detect": ("docscan.commands.detect", "Find the page in photos: corners, overlay and flat scan."),
    "frames": ("docscan.commands.frames", "Find the page in every frame of a video or a folder of frames."),
    "eval": ("docscan.commands.eval", "Evaluate detection against labelled photos."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module_name, short_help = COMMANDS[name]
        cmd = importlib.import_module(module_name).command
        cmd.short_help = cmd.short_help or short_help
        return cmd

    def format_commands(self, ctx, formatter):
        # Help text from the table, without importing every command module.
        rows = [(name, help_) for name, (_, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DocscanError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except ModuleNotFoundError as exc:
            # TensorFlow is an extra (it may be the user's own): say how to get it.
            if (exc.name or "").partition(".")[0] != "tensorflow":
                raise
            click.echo("error: TensorFlow is not installed; pip install 'docscan-tflite[cpu]' "
                       "(or your own tensorflow >= 2.18)", err=True)
            ctx.exit(2)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="docscan")
def main():
    """docscan: document-detection CNNs from Keras to verified TFLite on ARM."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
