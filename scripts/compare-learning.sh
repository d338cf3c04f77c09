#!/usr/bin/env bash
# The learning check of the README: recurrent and PyTorch trained with the same recipe (hidden 64,
# 1 layer, batch 32, seq-length 32, 500 steps, Adam 2e-3, clip 5) on the same text, three seeds per
# cell; prints one line per run and the medians. PyTorch runs with Debian's python3-torch.
# Usage: scripts/compare-learning.sh [DATA] [OUTDIR]   (DATA defaults to ../shared/data/tinyshakespeare.txt)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$root/../shared/data/tinyshakespeare.txt}
out=${2:-$(mktemp -d)}
mkdir -p "$out"
recipe=(--hidden 64 --layers 1 --batch-size 32 --seq-length 32 --steps 500)
for model in lstm gru rnn; do
  for seed in 1 2 3; do
    node "$root/dist/cli/recurrent.js" train --data "$data" --model "$model" "${recipe[@]}" --eval-every 500 --sample-length 0 \
      --seed "$seed" --out "$out/$model-$seed" > "$out/$model-$seed.log" 2>&1
    ours=$(node "$root/dist/cli/recurrent.js" eval --checkpoint "$out/$model-$seed" --data "$data" | sed -E 's/.*"valLoss":([0-9.]+).*/\1/')
    torch=$(/usr/bin/python3 "$root/scripts/char-rnn-torch.py" --data "$data" --model "$model" "${recipe[@]}" --seed "$seed" | sed -E 's/.*"valLoss": ([0-9.]+).*/\1/')
    printf '%s seed %s  recurrent %.4f  pytorch %.4f\n' "$model" "$seed" "$ours" "$torch"
  done
done | tee "$out/results.txt"
for model in lstm gru rnn; do
  ours=$(awk -v m="$model" '$1 == m { print $5 }' "$out/results.txt" | sort -n | sed -n 2p)
  torch=$(awk -v m="$model" '$1 == m { print $7 }' "$out/results.txt" | sort -n | sed -n 2p)
  awk -v m="$model" -v o="$ours" -v t="$torch" 'BEGIN { printf "%s median  recurrent %.4f  pytorch %.4f  difference %+.4f\n", m, o, t, o - t }'
done
