# Sourced by recipes. Stage bookkeeping shared by every recipe:
#   run_stage N NAME OPTIONS FUNCTION
# runs FUNCTION when N lies in [stage, stop_stage], unless exp_dir/done/stage_N records the
# same OPTIONS (then it is skipped as done). Output goes to exp_dir/log/stage_N.log and the
# terminal. A stage that runs invalidates the done markers of every later stage.
set -euo pipefail

log() { echo "$(date '+%H:%M:%S') $*"; }

run_stage() {
  local n="$1" name="$2" options="$3" fn="$4"
  if [ "$n" -lt "$stage" ] || [ "$n" -gt "$stop_stage" ]; then return 0; fi
  local marker="$exp_dir/done/stage_$n" logfile="$exp_dir/log/stage_$n.log"
  mkdir -p "$exp_dir/done" "$exp_dir/log"
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$options" ]; then
    log "stage $n ($name): done, skipped"
    return 0
  fi
  log "stage $n ($name): running, log in $logfile"
  rm -f "$marker"
  local later
  for later in "$exp_dir"/done/stage_*; do
    [ -e "$later" ] || continue
    [ "${later##*_}" -gt "$n" ] && rm -f "$later"
  done
  stage_signature="$options"  # for stages that keep it with their output (train)
  if ! ( set -o pipefail; "$fn" 2>&1 | tee "$logfile" ); then
    log "stage $n ($name): FAILED, see $logfile" >&2
    exit 1
  fi
  printf '%s' "$options" > "$marker"
  log "stage $n ($name): done"
}
