#!/bin/sh
# Run directories and the files around a training run, from the command line: a model read from
# a pipe trains and its checkpoint evaluates; --resume with another model text, or from a
# checkpoint whose metadata is out of range or garbage, is refused naming the file and the key
# (or the differing line); two trainers into one --out: the second refuses naming the first's
# pid; SIGTERM during training stops after the step (status 143) with a loadable last checkpoint
# and the command that resumes it; SIGINT likewise (130), and the printed command resumes the
# run; a second SIGINT ends at once leaving no temporary file, complete log lines and a loadable
# checkpoint; a second SIGTERM inside a checkpoint write leaves no temporary file; stale
# temporary files are swept at the next start; a FIFO given
# as model or checkpoint is refused within seconds, never waited on; a 2000-character
# --out works for train and infer, and one beyond PATH_MAX is refused with a clear message.
set -u
clmtl="$1"
models="$2"
. "$(dirname "$0")/check.sh"
tiny="--model $models/tiny.cfg"
small="--size 32x64 --batch 4 --train-count 32 --val-count 8 --patience 0 --log-every 1000"
evalopts="--count 4 --batch 4"

# ---- the model through a pipe: read once, parsed and stored from the same bytes -------------
cat "$models/tiny.cfg" | "$clmtl" train $small --model /dev/stdin --epochs 1 --out "$dir/pipe" > "$dir/pipe.log" 2>&1
check "train --model /dev/stdin (a pipe) succeeds" $?
"$clmtl" eval --model "$dir/pipe/last.safetensors" $evalopts > "$dir/eval.log" 2>&1
check "... and its checkpoint evaluates (it stores the model text)" $?
if command -v bash > /dev/null; then
  bash -c '"$1" train $2 --model <(cat "$3") --epochs 1 --out "$4" && "$1" eval --model "$4/last.safetensors" $5' \
    sh "$clmtl" "$small" "$models/tiny.cfg" "$dir/procsub" "$evalopts" > "$dir/procsub.log" 2>&1
  check "train --model <(cat tiny.cfg) trains and the checkpoint evaluates" $?
fi

# ---- --resume with another model text whose tensors are the same ----------------------------
sed 's/act = relu/act = leaky/' "$models/tiny.cfg" > "$dir/leaky.cfg"
line=$(grep -n "act = relu" "$models/tiny.cfg" | head -1 | cut -d: -f1)
"$clmtl" train $small --model "$dir/leaky.cfg" --epochs 2 --resume "$dir/pipe" > "$dir/leaky.log" 2>&1
test $? -eq 1 && grep -q "line $line in \[enc1\] differs: 'act = leaky' in $dir/leaky.cfg, 'act = relu'" "$dir/leaky.log"
check "--resume with another model text is refused naming the first differing line" $?

# ---- checkpoint metadata out of range or garbage at --resume --------------------------------
if command -v python3 > /dev/null; then
  setmeta() {
    python3 - "$@" << 'EOF'
import json, struct, sys
src, dst, key, value = sys.argv[1:5]
b = open(src, 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
h['__metadata__'][key] = value
j = json.dumps(h).encode()
open(dst, 'wb').write(struct.pack('<Q', len(j)) + j + b[8 + n:])
EOF
  }
  for kv in epoch=2147483647 step=-3 best_val_loss=abc epochs_since_best=1x dwa_last=1,2 mtl_steps=-1 \
      skipped_steps=nan; do
    key=${kv%%=*}
    mkdir -p "$dir/meta"
    setmeta "$dir/pipe/last.safetensors" "$dir/meta/last.safetensors" "$key" "${kv#*=}"
    timeout 30 "$clmtl" train $tiny $small --epochs 2 --resume "$dir/meta" > "$dir/meta.log" 2>&1
    test $? -eq 1 && grep -q "$dir/meta/last.safetensors: metadata '$key'" "$dir/meta.log"
    check "--resume refuses $kv naming the file and the key" $?
  done
else
  echo "[SKIP] python3 not available: metadata rewrites"
fi

# ---- two trainers into one --out; SIGTERM; stale temporary files ----------------------------
run="$dir/shared"
"$clmtl" train $tiny $small --epochs 500 --out "$run" > "$dir/first.log" 2>&1 &
first=$!
i=0
while [ $i -lt 300 ] && ! grep -q '"epoch"' "$run/log.jsonl" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
"$clmtl" train $tiny $small --epochs 1 --out "$run" > "$dir/second.log" 2>&1
rc=$?
test $rc -eq 1 && grep -q "in use by another training process (pid $first" "$dir/second.log"
check "a second trainer into the same --out is refused naming the first's pid" $?
kill -0 $first 2> /dev/null; check "... the first keeps running" $?
kill -TERM $first
wait $first
test $? -eq 143; check "SIGTERM ends training (status 143)" $?
grep -q "^resume with: $clmtl train --resume $run\$" "$dir/first.log"
check "... printing the exact resume command" $?
ls "$run" | grep -q '\.tmp\.'; test $? -ne 0; check "... leaving no temporary file" $?
"$clmtl" eval --model "$run/last.safetensors" $evalopts > "$dir/eval.log" 2>&1
check "... and a last checkpoint that loads" $?
: > "$run/last.safetensors.tmp.99999999" # a process that cannot exist (beyond any pid_max)
done_epochs=$(grep -c '"event":"epoch"' "$run/log.jsonl")
"$clmtl" train $tiny $small --epochs $((done_epochs + 1)) --resume "$run" > "$dir/resume.log" 2>&1
check "the run resumes after SIGTERM (the lock went with the process)" $?
test ! -e "$run/last.safetensors.tmp.99999999"; check "a stale temporary file is swept at start" $?

# SIGINT: a background job of a script ignores SIGINT, so it is restored to the default for
# the trainer (env --default-signal, coreutils 8.31)
if env --default-signal=INT true 2> /dev/null; then
  intr="env --default-signal=INT"
  big="--model $models/tiny.cfg --size 32x64 --batch 4 --train-count 400 --val-count 8 --patience 0 --log-every 1 --epochs 2"
  $intr "$clmtl" train $big --out "$dir/int" > "$dir/int.log" 2>&1 &
  pid=$!
  i=0
  while [ $i -lt 300 ] && ! grep -q '"event":"step","epoch":1,"step":3,' "$dir/int/log.jsonl" 2> /dev/null; do sleep 0.1; i=$((i + 1)); done
  kill -INT $pid
  wait $pid
  test $? -eq 130; check "SIGINT stops training after the step (status 130)" $?
  cmd=$(sed -n 's/^resume with: //p' "$dir/int.log")
  test "$cmd" = "$clmtl train --resume $dir/int"; check "... and prints the resume command ($cmd)" $?
  sh -c "$cmd" > "$dir/int2.log" 2>&1
  check "the printed command resumes and finishes the run" $?
  test "$(grep -c '"event":"epoch"' "$dir/int/log.jsonl")" -eq 2 && grep -q '"event":"resume","time":"[0-9T:-]*Z",.*"from_epoch":1,"epoch_step":[1-9]' "$dir/int/log.jsonl"
  check "... from the interrupted step of epoch 1: a resume record, then epochs 1 and 2 logged" $?
  # two SIGINTs in a row: the second ends the process at once (killed by SIGINT)
  $intr "$clmtl" train $big --epochs 50 --out "$dir/int3" > "$dir/int3.log" 2>&1 &
  pid=$!
  i=0
  while [ $i -lt 300 ] && ! grep -q '"event":"epoch"' "$dir/int3/log.jsonl" 2> /dev/null; do sleep 0.1; i=$((i + 1)); done
  kill -INT $pid; kill -INT $pid
  wait $pid
  test $? -eq 130; check "a second SIGINT ends at once (status 130)" $?
  ls "$dir/int3" | grep -q '\.tmp\.'; test $? -ne 0; check "... leaving no temporary file" $?
  test "$(tail -c 1 "$dir/int3/log.jsonl" | od -An -c | tr -d ' ')" = '\n'
  check "... and the log ends with a complete line" $?
  "$clmtl" eval --model "$dir/int3/last.safetensors" $evalopts > "$dir/eval.log" 2>&1
  check "... and a last checkpoint that loads" $?
else
  echo "[SKIP] env --default-signal is missing (coreutils < 8.31): SIGINT checks"
fi

# SIGTERM inside a checkpoint write: a FIFO where the first save's temporary file goes holds
# the writer in open(); the first SIGTERM only asks for a stop after the save, the second ends
# the process at once
mkdir -p "$dir/sig"
"$clmtl" train $tiny $small --epochs 3 --out "$dir/sig" > "$dir/sig.log" 2>&1 &
pid=$!
mkfifo "$dir/sig/best.safetensors.tmp.$pid"
i=0
while [ $i -lt 300 ] && ! grep -q partner "/proc/$pid/wchan" 2> /dev/null; do sleep 0.1; i=$((i + 1)); done
if grep -q partner "/proc/$pid/wchan" 2> /dev/null; then
  kill -TERM $pid
  sleep 1
  kill -TERM $pid 2> /dev/null
  wait $pid
  ls "$dir/sig" | grep -q '\.tmp\.'; test $? -ne 0
  check "SIGTERM during a checkpoint write leaves no temporary file" $?
else
  kill -TERM $pid; wait $pid
  echo "[SKIP] the writer was not seen blocked in the checkpoint write (/proc/PID/wchan)"
fi

# ---- FIFOs are refused, never waited on -----------------------------------------------------
mkfifo "$dir/fifo"
timeout 20 "$clmtl" train $small --model "$dir/fifo" --epochs 1 --out "$dir/f1" > "$dir/f.log" 2>&1
test $? -eq 1 && grep -q "$dir/fifo" "$dir/f.log"; check "a FIFO as --model is refused at once" $?
timeout 20 "$clmtl" eval --model "$dir/fifo" $evalopts > "$dir/f.log" 2>&1
test $? -eq 1 && grep -q "$dir/fifo" "$dir/f.log"; check "a FIFO as checkpoint (eval) is refused at once" $?
mkdir -p "$dir/fr" && mkfifo "$dir/fr/last.safetensors"
timeout 20 "$clmtl" train $tiny $small --epochs 1 --resume "$dir/fr" > "$dir/f.log" 2>&1
test $? -eq 1 && grep -q "$dir/fr/last.safetensors" "$dir/f.log"; check "a FIFO as --resume checkpoint is refused at once" $?

# ---- long paths: built on the heap, never truncated ------------------------------------------
long="$dir"
seg=dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd
while [ ${#long} -lt 2000 ]; do long="$long/$seg"; done
"$clmtl" train $tiny $small --epochs 1 --out "$long" > "$dir/long.log" 2>&1
test $? -eq 0 && test -f "$long/last.safetensors" && test -f "$long/log.jsonl"
check "train --out with a ${#long}-character path writes there" $?
"$clmtl" synth --out "$dir/img" --count 1 --size 32x64 > /dev/null 2>&1
img=$(find "$dir/img" -name '*_leftImg8bit.png' | head -1)
stem=$(basename "$img" .png)
"$clmtl" infer --model "$long/last.safetensors" --out "$long" "$img" > "$dir/infer.log" 2>&1
test $? -eq 0 && test -f "$long/${stem}_panel.png" && test -f "$long/${stem}_depth.png"
check "infer --out with the same path writes its pictures there" $?
timeout 20 "$clmtl" infer --model "$long/last.safetensors" --out "$dir/img" "$dir/fifo" > "$dir/f.log" 2>&1
test $? -eq 1 && grep -q "$dir/fifo" "$dir/f.log"; check "a FIFO as an image (infer) is refused at once" $?
huge="$long"
while [ ${#huge} -lt 5000 ]; do huge="$huge/$seg"; done
"$clmtl" train $tiny $small --epochs 1 --out "$huge" > "$dir/huge.log" 2>&1
test $? -eq 1 && grep -q "too long" "$dir/huge.log"
check "a ${#huge}-character --out is refused with a clear message" $?
finish
