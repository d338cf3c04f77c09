#!/usr/bin/env bash
# tinyshakespeare at equal time (issue 15): recurrent's LSTM, GRU and GPT-style Transformer, and the PyTorch
# twins of the LSTM and the Transformer (scripts/char-rnn-torch.py, Debian's python3-torch), each for BUDGET
# seconds; the first 90% trains, the last 10% validates (both programs split the same way), validation loss
# in nats per character. Every run decays its learning rate by a cosine over the budget. Prints one line per
# run: name, steps, validation loss.
#   bash experiments/tinyshakespeare.sh [BUDGET] [OUTDIR] [RUN...]   (default 300 s, runs/shakespeare-BUDGET-CLOCK, every run)
# CLOCK=wall (default): each run alone on the machine, one after the other, PyTorch on both cores.
# CLOCK=cpu: BUDGET counts each process's CPU time and both programs run one thread (RECURRENT_THREADS=1), so runs
# can share the machine (two at once on two cores) and other jobs cannot eat a run's budget (they still
# slow each CPU-second a little, through shared caches and memory bandwidth, for both programs alike).
# Budgets of 20 minutes and more train the larger models (settings chosen before the runs, not searched).
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-300}
clock=${CLOCK:-wall}
case $clock in wall) threads=2 ;; cpu) threads=1 ;; *) echo "CLOCK must be wall or cpu, not $clock"; exit 2 ;; esac
out=${2:-runs/shakespeare-$budget-$clock}
shift $(( $# < 2 ? $# : 2 ))
data=${DATA:-../shared/data/tinyshakespeare.txt}
mkdir -p "$out"
ours() { name=$1; shift; [ -f "$out/$name/model.safetensors" ] || RECURRENT_THREADS=$threads node dist/cli/recurrent.js train --data "$data" \
  --time "$budget" --clock "$clock" --lr-schedule cosine --min-lr 1e-4 --eval-every 100000 --sample-length 0 "$@" --out "$out/$name" > "$out/$name.log" 2>&1
  node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n").map(JSON.parse).at(-1);console.log(process.argv[2],"steps",l.step,"val",l.valLoss.toFixed(4))' "$out/$name/metrics.jsonl" "$name"; }
torch() { name=$1; shift; [ -f "$out/$name.json" ] || /usr/bin/python3 scripts/char-rnn-torch.py --data "$data" \
  --time "$budget" --clock "$clock" --threads "$threads" --lr-schedule cosine --min-lr 1e-4 "$@" > "$out/$name.json"; echo "$name $(cat "$out/$name.json")"; }

if [ "$budget" -lt 1200 ]; then
  lstm=(--model lstm --hidden 256 --layers 2 --seq-length 100 --batch-size 32 --lr 2e-3)
  gru=(--model gru --hidden 256 --layers 2 --seq-length 100 --batch-size 32 --lr 2e-3)
  gpt=(--model transformer --hidden 128 --layers 4 --heads 4 --context 128 --batch-size 16 --lr 1e-3)
else
  lstm=(--model lstm --hidden 512 --layers 2 --seq-length 100 --batch-size 32 --lr 2e-3 --dropout 0.25)
  gru=(--model gru --hidden 512 --layers 2 --seq-length 100 --batch-size 32 --lr 2e-3 --dropout 0.25)
  gpt=(--model transformer --hidden 192 --layers 4 --heads 6 --context 128 --batch-size 16 --lr 1e-3 --dropout 0.1)
fi
runs=("${@:-lstm gru gpt torch-lstm torch-gpt}")
for r in ${runs[*]}; do
  case $r in
    lstm) ours lstm "${lstm[@]}" ;;
    gru) ours gru "${gru[@]}" ;;
    gpt) ours gpt "${gpt[@]}" --optimizer adamw ;;
    torch-lstm) torch torch-lstm "${lstm[@]}" ;;
    torch-gpt) torch torch-gpt "${gpt[@]}" --optimizer adamw ;;
    *) echo "unknown run $r (lstm, gru, gpt, torch-lstm, torch-gpt)"; exit 2 ;;
  esac
done
