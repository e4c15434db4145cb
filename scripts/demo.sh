#!/usr/bin/env bash
# The main job on the shipped default model. Filled in as the pipeline grows.
set -euo pipefail
docscan models
