#!/usr/bin/env bash
# tinyshakespeare at equal wall-clock (issue 15): recurrent's LSTM, GRU and GPT-style Transformer, and the
# PyTorch twins of the LSTM and the Transformer (scripts/char-rnn-torch.py, Debian's python3-torch), each
# alone on the machine for BUDGET seconds, one after the other; the first 90% trains, the last 10%
# validates (both programs split the same way), validation loss in nats per character. Every run decays its
# learning rate by a cosine over the budget. Prints one line per run: name, steps, validation loss.
#   bash experiments/tinyshakespeare.sh [BUDGET] [OUTDIR]   (default 300 s, runs/shakespeare-BUDGET)
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-300}
out=${2:-runs/shakespeare-$budget}
data=${DATA:-../shared/data/tinyshakespeare.txt}
mkdir -p "$out"
ours() { name=$1; shift; [ -f "$out/$name/model.safetensors" ] || node dist/cli/recurrent.js train --data "$data" \
  --time "$budget" --lr-schedule cosine --min-lr 1e-4 --eval-every 100000 --sample-length 0 "$@" --out "$out/$name" > "$out/$name.log" 2>&1
  node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n").map(JSON.parse).at(-1);console.log(process.argv[2],"steps",l.step,"val",l.valLoss.toFixed(4))' "$out/$name/metrics.jsonl" "$name"; }
torch() { name=$1; shift; [ -f "$out/$name.json" ] || /usr/bin/python3 scripts/char-rnn-torch.py --data "$data" \
  --time "$budget" --lr-schedule cosine --min-lr 1e-4 "$@" > "$out/$name.json"; echo "$name $(cat "$out/$name.json")"; }

lstm=(--model lstm --hidden 256 --layers 2 --seq-length 100 --batch-size 32 --lr 2e-3)
gru=(--model gru --hidden 256 --layers 2 --seq-length 100 --batch-size 32 --lr 2e-3)
gpt=(--model transformer --hidden 128 --layers 4 --heads 4 --context 128 --batch-size 16 --lr 1e-3)
ours lstm-2x256 "${lstm[@]}"
ours gru-2x256 "${gru[@]}"
ours gpt-4x128 "${gpt[@]}" --optimizer adamw
torch torch-lstm-2x256 "${lstm[@]}"
torch torch-gpt-4x128 "${gpt[@]}" --optimizer adamw
