#!/usr/bin/env bash
# slurm-e2e.sh MIXFT_BIN: `mixft sweep emit --slurm` against a real Slurm.
#
# Starts a one-node Slurm on this machine (munged, slurmctld, slurmd from
# Debian's slurm-wlm and munge, installed when missing; root only), every
# address the loopback one, and checks with `ss` that no daemon listens on
# any other. Plans a tiny sweep (2 strategies x 2 seeds on a tiny BERT from
# `mixft init` and a head of ../shared/glue/RTE), emits it as a job array,
# submits it with sbatch and, while the array runs, preempts two tasks the
# ways a cluster does: the batch shell of one gets SIGTERM (what
# --signal=B:TERM@120 sends before the time limit) and requeues itself; the
# other is requeued with `scontrol requeue` (what preemption does). Then:
# every run finished, each preempted task resumed (its Slurm log shows the
# resume, its log.jsonl never repeats a step) and every run's final weights
# and report numbers equal a local `mixft sweep run` of the same sweep, bit
# for bit. Every daemon it started is stopped at the end, also on failure.
set -euo pipefail
bin=$(realpath "${1:?usage: slurm-e2e.sh MIXFT_BIN}")
shared=$(realpath "${SHARED:-../shared}")
say() { echo "slurm e2e: $*"; }
fail() { echo "slurm e2e: FAIL: $*" >&2; exit 1; }

# --- Slurm and munge from Debian, when missing.
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null ||
  ! command -v munged >/dev/null || ! command -v mungekey >/dev/null || ! command -v jq >/dev/null || ! command -v ss >/dev/null; then
  [ "$(id -u)" = 0 ] || fail "slurm-wlm, munge, jq or ss missing and not root: cannot install them"
  say "installing slurm-wlm, munge, jq, iproute2"
  apt-get update -q >/dev/null
  # The packages' own services must not start (a policy-rc.d saying no, for
  # the install only): this script starts the daemons it needs and stops them.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurm-wlm munge jq iproute2 >/dev/null
  [ -z "$policy" ] || rm -f "$policy"
fi
[ "$(id -u)" = 0 ] || fail "run as root (slurmd starts jobs as their user)"
for f in RTE/train.tsv RTE/dev.tsv; do [ -f "$shared/glue/$f" ] || fail "$shared/glue/$f not found"; done
[ -f "$shared/vocab/bert-base-uncased-vocab.txt" ] || fail "$shared/vocab/bert-base-uncased-vocab.txt not found"

work=$(mktemp -d /tmp/mixft-slurm-e2e.XXXXXX)
chmod 755 "$work"
declare -A pid=()  # daemon name -> PID this script started
jobid=""
export SLURM_CONF="$work/slurm.conf"

stop_all() {
  local rc=$? name p i left
  trap - EXIT INT TERM
  set +e
  if [ -n "$jobid" ] && kill -0 "${pid[slurmctld]:-0}" 2>/dev/null; then
    timeout 10 scancel "$jobid" 2>/dev/null
    for ((i = 0; i < 60; i++)); do
      [ -z "$(timeout 5 squeue -h -j "$jobid" 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  for name in slurmd slurmctld munged; do
    p=${pid[$name]:-}
    [ -n "$p" ] || continue
    kill -TERM "$p" 2>/dev/null
    for ((i = 0; i < 40; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$p" 2>/dev/null; then
      echo "slurm e2e: $name (pid $p) ignored SIGTERM; killing it" >&2
      kill -KILL "$p" 2>/dev/null
    fi
    wait "$p" 2>/dev/null
  done
  # What slurmd started for our jobs (slurmstepd, the batch scripts, mixft)
  # carries our SLURM_CONF; after an abnormal end some may outlive slurmd.
  # (The search runs without SLURM_CONF in its environment, so that it does
  # not find itself.)
  left=$(conf=$SLURM_CONF; unset SLURM_CONF; grep -lzx "SLURM_CONF=$conf" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3)
  if [ -n "$left" ]; then
    echo "slurm e2e: killing job processes left behind: $(tr '\n' ' ' <<<"$left")" >&2
    mapfile -t left <<<"$left"
    kill -KILL "${left[@]}" 2>/dev/null
  fi
  if [ "$rc" != 0 ]; then
    for f in slurmctld.log slurmd.log; do
      [ -f "$work/$f" ] && { echo "--- $f (tail)" >&2; tail -n 30 "$work/$f" >&2; }
    done
    for f in "$work"/slurm-sweep/slurm/*.out; do
      [ -f "$f" ] && { echo "--- $f" >&2; grep -v '^step ' "$f" >&2; }
    done
  fi
  if [ -n "${KEEP:-}" ]; then
    echo "slurm e2e: kept $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# started NAME CMD...: runs a daemon in the foreground of a background job
# (so $! is the daemon itself: setsid execs it without forking, as a
# background job is no process group leader) and records its PID.
started() {
  local name=$1
  shift
  # setsid: a signal to this script's process group (Ctrl-C, timeout) does
  # not reach the daemons; stop_all stops them in order.
  setsid "$@" >"$work/$name.out" 2>&1 &
  pid[$name]=$!
}

# wait_for SECONDS WHAT CMD...: polls CMD until it succeeds.
wait_for() {
  local secs=$1 what=$2 i
  shift 2
  for ((i = 0; i < secs * 4; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  fail "$what not within ${secs}s"
}

free_port() {
  local p
  for ((p = 20000 + RANDOM % 20000; ; p++)); do
    ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}

# --- munged on a socket of its own, with a key of its own.
mkdir -p "$work/munge" "$work/ctld" "$work/slurmd"
chmod 700 "$work/munge"
mungekey --create --keyfile="$work/munge/munge.key" >/dev/null
started munged munged --foreground --force --socket="$work/munge/munge.socket" --key-file="$work/munge/munge.key" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" --seed-file="$work/munge/munged.seed" \
  --origin=127.0.0.1
wait_for 10 "munged's socket" test -S "$work/munge/munge.socket"

# --- slurm.conf: one node (this machine's cores and memory), loopback only.
host=$(hostname -s)
node=$(slurmd -C | head -1)                   # NodeName=HOST CPUs=.. ... RealMemory=..
cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
ctldport=$(free_port)
slurmdport=$(free_port)
[ "$slurmdport" != "$ctldport" ] || slurmdport=$((ctldport + 1))
cat >"$SLURM_CONF" <<EOF
ClusterName=mixfte2e
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctldport
SlurmdPort=$slurmdport
# Bind to the configured addresses (127.0.0.1), not to every address.
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire: also how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$work/munge/munge.socket,cred_expire=10
StateSaveLocation=$work/ctld
SlurmdSpoolDir=$work/slurmd
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
PlugStackConfig=$work/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
KillWait=30
MinJobAge=600
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=e2e Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
: >"$work/plugstack.conf"

started slurmctld slurmctld -D -f "$SLURM_CONF"
wait_for 30 "slurmctld answering" scontrol ping
started slurmd slurmd -D -f "$SLURM_CONF" -N "$host"
node_idle() { [ "$(sinfo -h -n "$host" -o %T)" = idle ]; }
wait_for 60 "node $host idle" node_idle
say "slurmctld (pid ${pid[slurmctld]}), slurmd (pid ${pid[slurmd]}), munged (pid ${pid[munged]}) up; node $host idle, $cpus CPUs"

# check_loopback: every socket our daemons (and the job steps slurmd
# started) listen on is bound to the loopback address.
check_loopback() {
  local lines bad
  lines=$(ss -Hltunp | grep -E 'users:\(\("(slurmctld|slurmd|slurmstepd|munged)"' || true)
  [ -n "$lines" ] || fail "ss shows no socket of slurmctld/slurmd (is ss allowed to see them?)"
  bad=$(awk '{print $5}' <<<"$lines" | grep -Ev '^(127\.0\.0\.1|\[::1\]):[0-9]+$' || true)
  [ -z "$bad" ] || fail "a daemon listens on a non-loopback address: $bad
$lines"
}
check_loopback

# --- a tiny sweep: 2 strategies x 2 seeds.
"$bin" init --preset tiny --vocab "$shared/vocab/bert-base-uncased-vocab.txt" --task rte --out "$work/model" >/dev/null
cat >"$work/e2e.yaml" <<EOF
base:
  model: $work/model
  data_dir: $shared/glue/{task_dir}
  task: rte
  max_train_examples: 256
  max_eval_examples: 64
  max_seq_length: 64
  batch_size: 8
  max_steps: 160
  eval_steps: 80
  lr: 1.0e-4
axes:
  strategy: [dropout, mixout]
  seed: [1, 2]
EOF
sweep="$work/slurm-sweep"
"$bin" sweep emit --slurm "$work/e2e.yaml" --output-dir "$sweep" --throttle "$cpus" --cpus 1 \
  --mixft "$bin" --name mixft-e2e >"$work/e2e.sbatch"
runs=$(wc -l <"$sweep/manifest.jsonl")
[ "$runs" -ge 4 ] || fail "manifest has $runs runs, expected 4"
run_id() { sed -n "$(($1 + 1))p" "$sweep/manifest.jsonl" | jq -r .id; }

jobid=$(sbatch --parsable "$work/e2e.sbatch")
jobid=${jobid%%;*}
say "submitted job array $jobid ($runs runs)"

# steps_logged I: lines of run I's log.jsonl (one per step).
steps_logged() {
  local f
  f="$sweep/$(run_id "$1")/log.jsonl"
  if [ -f "$f" ]; then wc -l <"$f"; else echo 0; fi
}
mid_run() { local n; n=$(steps_logged "$1"); [ "$n" -ge 20 ] && [ "$n" -le 140 ]; }

# Preempt task 0 as --signal=B:TERM@120 does before the time limit: SIGTERM
# to its batch shell alone, which passes it on to the run and requeues the
# task when the run exits 3. (Sent with kill to the shell that `scontrol
# listpids` names: `scancel --batch --signal=TERM` with an array task is
# refused for the array's pending remainder and retries, signalling the task
# again after its requeue.) Preempt task 1 as a cluster's preemption does:
# `scontrol requeue` (SIGTERM to every process of the job, then requeue).
task_jobid() { squeue -h -j "${jobid}_$1" -o %A; }
batch_shell() {  # the PID of the job's batch script: its process whose parent is not in the job
  local pids p
  pids=$(scontrol listpids "$1" | awk '$3 == "batch" {print $1}')
  for p in $pids; do
    grep -qx "$(ps -o ppid= -p "$p" | tr -d ' ')" <<<"$pids" || { echo "$p"; return; }
  done
}
wait_for 120 "task 0 running mid-run" mid_run 0
check_loopback
# sweep status sees the running task (from its fresh log) with its step.
"$bin" sweep status "$sweep" --json >"$work/status.json"
jq -e '.counts.running >= 1 and .runs[0].status == "running" and .runs[0].step > 0' "$work/status.json" >/dev/null ||
  fail "sweep status mid-run: $(jq -c '{counts, run0: .runs[0]}' "$work/status.json")"
shell=$(batch_shell "$(task_jobid 0)")
[ -n "$shell" ] || fail "task 0: no batch shell in scontrol listpids"
kill -TERM "$shell"
say "task 0: SIGTERM to its batch shell (pid $shell) at step $(steps_logged 0)"
wait_for 120 "task 1 running mid-run" mid_run 1
scontrol requeue "$(task_jobid 1)"
say "task 1: scontrol requeue at step $(steps_logged 1)"

array_done() { [ -z "$(squeue -h -j "$jobid" 2>/dev/null)" ]; }
wait_for 300 "job array $jobid finished" array_done
say "job array $jobid done"

# --- checks: every run finished; the preempted tasks resumed.
finished=0
for ((i = 0; i < runs; i++)); do
  m="$sweep/$(run_id "$i")/metrics.json"
  [ -f "$m" ] || fail "run $i: no metrics.json"
  if jq -e '.total_steps > 0 and .steps == .total_steps' "$m" >/dev/null; then
    finished=$((finished + 1))
  else
    fail "run $i not finished: $(jq -c '{steps, total_steps, failure}' "$m")"
  fi
  # A resumed run drops the steps after its saved state: steps count 1..N once.
  jq -s -e '[.[].step] == [range(1; length + 1)]' "$sweep/$(run_id "$i")/log.jsonl" >/dev/null ||
    fail "run $i: log.jsonl steps are not 1..N once each"
done
"$bin" sweep status "$sweep" --json >"$work/status.json"
jq -e --argjson n "$runs" '.counts.finished + .counts.failed == $n' "$work/status.json" >/dev/null ||
  fail "sweep status after the array: $(jq -c .counts "$work/status.json")"
resumed=0
for i in 0 1; do
  out="$sweep/slurm/${jobid}_$i.out"
  [ -f "$out" ] || fail "task $i: no Slurm output $out"
  grep -q ': start in ' "$out" || fail "task $i never started: $(cat "$out")"
  grep -q ': resume in ' "$out" || fail "task $i was preempted but did not resume: $(cat "$out")"
  grep -q 'interrupted' "$out" || fail "task $i: no interruption in its log: $(cat "$out")"
  [ "$(grep -c ': start in ' "$out")" = 1 ] || fail "task $i started more than once: $(cat "$out")"
  resumed=$((resumed + 1))
done
grep -q 'requeueing to resume it' "$sweep/slurm/${jobid}_0.out" ||
  fail "task 0: the batch script did not requeue itself after exit 3: $(cat "$sweep/slurm/${jobid}_0.out")"
grep -q 'requeued by Slurm' "$sweep/slurm/${jobid}_1.out" ||
  fail "task 1: the batch script did not see that Slurm requeued it: $(cat "$sweep/slurm/${jobid}_1.out")"
! grep -q 'scontrol: error\|Job is pending execution' "$sweep"/slurm/*.out ||
  fail "a batch script's scontrol failed: $(grep 'scontrol: error\|Job is pending execution' "$sweep"/slurm/*.out)"

# --- the same sweep, run locally: the same weights and report, bit for bit.
local_sweep="$work/local-sweep"
"$bin" sweep run "$work/e2e.yaml" --output-dir "$local_sweep" --workers "$cpus" --threads 1 >"$work/local.out" 2>&1 ||
  fail "local sweep run: $(cat "$work/local.out")"
for ((i = 0; i < runs; i++)); do
  id=$(run_id "$i")
  cmp -s "$sweep/$id/last/model.safetensors" "$local_sweep/$id/last/model.safetensors" ||
    fail "run $i ($id): last/model.safetensors differs from the local run's"
done
"$bin" sweep report "$sweep" >/dev/null
"$bin" sweep report "$local_sweep" >/dev/null
numbers='del(.dirs) | .groups |= map(del(.train_seconds_mean))'
diff <(jq -S "$numbers" "$sweep/report.json") <(jq -S "$numbers" "$local_sweep/report.json") >"$work/report.diff" ||
  fail "report.json differs from the local sweep's: $(cat "$work/report.diff")"
say "$finished/$runs runs finished, $resumed requeued and resumed"
