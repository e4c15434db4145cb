#!/usr/bin/env bash
# The main job on the shipped default model: find the page in photos, score it against
# hand labels, show what the .tflite holds and how fast it runs on this host.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=models/hed_default.int8.tflite
OUT=out/demo
SHARED=${DOCSCAN_SHARED:-../shared}
PHOTOS=$SHARED/data/real-photos-dev
mkdir -p "$OUT"

if [ -d "$PHOTOS" ]; then
    mapfile -t images < <(ls "$PHOTOS"/*.jpg | head -n 6)
else
    echo "($PHOTOS not found: using synthetic photos instead)"
    docscan synth "$OUT/synth" -n 6 --seed 4242
    mapfile -t images < <(ls "$OUT"/synth/*.jpg)
fi

echo "== docscan detect: corners, overlay and flat scan per photo (in $OUT/detect)"
docscan detect "${images[@]}" --model "$MODEL" -o "$OUT/detect"

if [ -f "$PHOTOS/labels.json" ]; then
    echo "== docscan eval: the labelled real phone photos"
    docscan eval "$PHOTOS" "$PHOTOS/labels.json" --model "$MODEL" -o "$OUT/eval"
fi

echo "== docscan inspect: the op inventory of $MODEL"
docscan inspect "$MODEL"

echo "== docscan bench: $MODEL on this host (1 thread)"
docscan bench "$MODEL" --device host --runs 30 -o "$OUT/bench-host"
echo "demo outputs in $OUT/"
