# Sourced by recipes/<dataset>/run.sh after it sets its defaults and parses flags.
# The same eight stages for every dataset; each stage is one or a few `avforge` calls.
#   0 check (synthetic: generate) data · 1 manifests · 2 visual features · 3 audio features
#   4 train · 5 infer (cache raw outputs) · 6 post-process → proposals · 7 score, or export
source "$(dirname "${BASH_SOURCE[0]}")/stages.sh"

if [ "$ngpu" -gt 0 ]; then device=cuda; else device=cpu; fi
launch() {  # one process per GPU under torchrun when ngpu > 1
  if [ "$ngpu" -gt 1 ]; then python -m torch.distributed.run --standalone --nproc_per_node "$ngpu" -m avforge "$@"
  else python -m avforge "$@"; fi
}

# Encoders: log-mel / light lip features by default (no weights needed); an HF name or folder
# for --audio_encoder, and --lip_weights (an Auto-AVSR visual checkpoint) for the lip ResNet.
if [ "$audio_encoder" = logmel ]; then audio_args=(--encoder logmel)
else audio_args=(--encoder hf --model "$audio_encoder" --layer "$audio_layer"); fi
if [ -n "$lip_weights" ]; then visual_args=(--encoder lip-resnet --variant auto-avsr --checkpoint "$lip_weights")
else visual_args=(--encoder "$visual_encoder"); fi
if [ -n "$crop" ]; then visual_args+=(--crop "$crop"); fi  # default: avsr for Auto-AVSR weights, else detect
case "$store" in  # storage of new feature stores (see avforge extract --dtype / --layout)
  files) store_args=() ;;
  packed16) store_args=(--dtype float16 --layout packed) ;;
  *) echo "$0: error: --store must be files or packed16, got '$store'" >&2; exit 2 ;;
esac
splits=("$train_split" "$val_split" "$test_split")
train_sets=(); for kv in $train_set; do train_sets+=(--set "$kv"); done
feats="$exp_dir/features"

# The training videos' word timings (from the metadata's transcripts), written by stage 1 when asked for:
# --splice_at_words true places the pseudo-forgeries at word boundaries (avforge/data/splice.py),
# --word_edges true trains the word-edge target (avforge/models/edges.py)
words_file="$exp_dir/manifests/$train_split.words.jsonl"
for flag in splice_at_words word_edges; do
  case "${!flag}" in
    true|false) ;;
    *) echo "$0: error: --$flag must be true or false, got '${!flag}'" >&2; exit 2 ;;
  esac
done
if [ "$splice_at_words" = true ] || [ "$word_edges" = true ]; then need_words=true; else need_words=false; fi
words_sets=(--set "data.splice_at_words=$splice_at_words" --set "model.word_edges=$word_edges")
if [ "$need_words" = true ]; then words_sets+=(--set "data.train_words=$words_file"); fi

# --members N: N detectors (seeds seed, seed + 1, ...) run as one ensemble, their outputs averaged
# (avforge/models/ensemble.py): N times the training work (docs/results.md, "Weight decay and ensembles").
# --member_jobs J trains J of them at a time (1: one after another), each logging to <its folder>/train.log;
# on CPU each gets cores / (members in its round of J) threads unless OMP_NUM_THREADS is set (so a last round of
# fewer members gets more each): a small detector does not keep the cores busy (three members on 2 cores 1.32x
# faster with J = 3; docs/results.md, "Members side by side"). Both may be `auto`, resolved with --config auto below.
for flag in members member_jobs; do
  case "${!flag}" in
    auto) ;;
    ''|*[!0-9]*|0) echo "$0: error: --$flag must be a whole number >= 1 or auto, got '${!flag}'" >&2; exit 2 ;;
  esac
done
if [ "$member_jobs" != auto ] && [ "$member_jobs" -gt 1 ] && [ "$ngpu" -gt 1 ]; then
  echo "$0: error: --member_jobs above 1 shares one device; use it with --ngpu 0 or 1, not $ngpu" >&2; exit 2
fi
if ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] < 501)); then side_by_side=false; else side_by_side=true; fi
if [ "$member_jobs" != auto ] && [ "$member_jobs" -gt 1 ] && [ "$side_by_side" = false ]; then
  echo "$0: error: --member_jobs above 1 needs bash 5.1 or later (wait -p), this is $BASH_VERSION" >&2; exit 2
fi

stage_manifests() {
  for split in "${splits[@]}"; do
    local words=()
    if [ "$split" = "$train_split" ] && [ "$need_words" = true ]; then words=(--words "$words_file"); fi
    python -m avforge manifest --dataset "$dataset" --root "$data_root" --split "$split" \
      --out "$exp_dir/manifests/$split.jsonl" --check-files "${words[@]}"
  done
}
stage_extract() {  # $1 = visual | audio
  local kind="$1"; local -n args="${kind}_args"
  for split in "${splits[@]}"; do
    launch extract --manifest "$exp_dir/manifests/$split.jsonl" "${args[@]}" "${store_args[@]}" \
      --out "$feats/$kind" --device "$device" --no-progress
  done
}
stage_visual() { stage_extract visual; }
stage_audio() { stage_extract audio; }
member_signature() {  # $1 = signature, $2 = member number (adds ";member=k" from 2 on): without the member count
  printf '%s' "$1" | sed -E 's/(^|;)members=[0-9]+;/\1/'
  if [ "${2:-1}" -gt 1 ]; then printf ';member=%s' "$2"; fi
}
prepare_member() {  # $1 = member number
  # A run started with other inputs (edited config, seed, --set, data or encoders) is another
  # model: keep it as <dir>.replaced.N and train anew (the trainer would refuse it, or resume
  # it on other features). Same inputs (a killed run, a new test split): resume.
  # No signature recorded (a run from before signatures): the trainer decides.
  # How many members there are is not part of one member's signature: --members 3 after 1 keeps the first.
  local k="$1" dir="${member_dirs[$1 - 1]}" n=1 signature
  signature="$(member_signature "$stage_signature$train_inputs" "$k")"
  if [ -f "$dir/recipe_signature" ] && [ "$(member_signature "$(cat "$dir/recipe_signature")")" != "$signature" ]; then
    while [ -e "$dir.replaced.$n" ]; do n=$((n + 1)); done
    mv "$dir" "$dir.replaced.$n"
    log "stage 4: $dir was trained with other options; kept as $dir.replaced.$n"
  fi
  mkdir -p "$dir" && printf '%s' "$signature" > "$dir/recipe_signature"
}
train_member() {  # $1 = member number
  local k="$1"
  launch train --config "$config" --exp-dir "${member_dirs[k - 1]}" --device "$device" \
    --set "data.train_manifest=$exp_dir/manifests/$train_split.jsonl" \
    --set "data.val_manifest=$exp_dir/manifests/$val_split.jsonl" \
    --set "data.visual_store=$feats/visual" --set "data.audio_store=$feats/audio" \
    --set "train.seed=$((seed + k - 1))" "${words_sets[@]}" "${train_sets[@]}"
}
wait_member() {  # waits for one of stage_train's running members; non-zero when it failed
  local pid k rc=0
  wait -n -p pid "${!running[@]}" || rc=$?
  k="${running[$pid]}"; unset "running[$pid]"
  if [ "$rc" -eq 0 ]; then log "stage 4: member $k done"; return 0; fi
  log "stage 4: member $k FAILED (exit $rc), see ${member_dirs[k - 1]}/train.log; its last lines:"
  tail -n 5 "${member_dirs[k - 1]}/train.log"
  return 1
}
stage_train() {
  local k
  if [ "$member_jobs" -eq 1 ] || [ "$members" -eq 1 ]; then
    for ((k = 1; k <= members; k++)); do
      prepare_member "$k"
      [ "$members" -gt 1 ] && log "stage 4: member $k of $members (seed $((seed + k - 1))) in ${member_dirs[k - 1]}"
      train_member "$k"
    done
    return 0
  fi
  local jobs=$((member_jobs < members ? member_jobs : members)) fixed="${OMP_NUM_THREADS:-}" threads note round failed=0
  local -A running=()  # pid -> member number
  log "stage 4: $members members, $jobs at a time${fixed:+ with OMP_NUM_THREADS=$fixed each}"
  for ((k = 1; k <= members; k++)); do
    while [ "${#running[@]}" -ge "$jobs" ]; do wait_member || failed=1; done
    prepare_member "$k"
    threads=$fixed note=""
    if [ -z "$fixed" ] && [ "$device" = cpu ]; then  # the members of k's round: jobs, or what is left in the last
      round=$((members - (k - 1) / jobs * jobs)); ((round <= jobs)) || round=$jobs
      threads=$(($(nproc) / round)); ((threads >= 1)) || threads=1
      note=" with OMP_NUM_THREADS=$threads"
    fi
    log "stage 4: member $k of $members (seed $((seed + k - 1))) in ${member_dirs[k - 1]}$note, log ${member_dirs[k - 1]}/train.log"
    ( if [ -n "$threads" ]; then export OMP_NUM_THREADS="$threads"; fi
      train_member "$k" ) > "${member_dirs[k - 1]}/train.log" 2>&1 &
    running[$!]=$k
  done
  while [ "${#running[@]}" -gt 0 ]; do wait_member || failed=1; done
  return "$failed"
}
stage_predict() {
  # Raw outputs of another training are a stale cache (predict may not tell: same path, same
  # step): remove them; the checkpoint that made them is kept. Same inputs (a killed run): resume.
  local raw="$exp_dir/raw/$test_split" signature="$stage_signature" dir checkpoints=()
  for dir in "${member_dirs[@]}"; do
    signature+="$(cat "$dir/recipe_signature" 2>/dev/null || true)"
    checkpoints+=(--checkpoint "$dir")
  done
  if [ -f "$raw/recipe_signature" ] && [ "$(cat "$raw/recipe_signature")" != "$signature" ]; then
    rm -rf "$raw"
    log "stage 5: removed the raw outputs of another training from $raw"
  fi
  mkdir -p "$raw" && printf '%s' "$signature" > "$raw/recipe_signature"
  python -m avforge predict "${checkpoints[@]}" --manifest "$exp_dir/manifests/$test_split.jsonl" \
    --visual-store "$feats/visual" --audio-store "$feats/audio" --out "$exp_dir/raw/$test_split" --device "$device" \
    --config "$config" "${train_sets[@]}"  # the config's infer section, as it is now
}
stage_postprocess() {
  python -m avforge postprocess --raw "$exp_dir/raw/$test_split" --out "$exp_dir/proposals/$test_split.json" \
    --config "$config" "${train_sets[@]}" --nms "$nms" ${nms_iou:+--nms-iou "$nms_iou"} --top-k "$top_k" \
    --score-threshold "$score_threshold"  # the config's postprocess section, then the recipe's flags
}
stage_report() {
  local props="$exp_dir/proposals/$test_split.json" scores="$exp_dir/proposals/video_scores.json"
  if [ -n "$test_labels" ]; then
    python -m avforge evaluate --pred "$props" --meta "$test_labels" --protocol "$protocol" \
      --split "$test_split" --detection "$scores" --modality "$exp_dir/proposals/$test_split.modality.json" \
      --out "$exp_dir/metrics_$test_split.json"
  else
    python -m avforge submit --proposals "$props" --scores "$scores" --files "$test_files" \
      --out "$exp_dir/submission.zip"
  fi
}

# Stage signatures hold what changes a stage's result, never how it is run (ngpu, device):
# option values, and the sha256 of the files behind them (weights, metadata; the config's parsed content),
# so an edited file re-runs its stage. A model name that is not a path is signed as the name.
opts() { local v s=""; for v in "$@"; do s+="$v=${!v};"; done; printf '%s' "$s"; }
fingerprint() {  # sha256 of a file, of a folder's files (paths + contents), else the value itself
  if [ -f "$1" ]; then sha256sum < "$1" | cut -c1-64
  elif [ -d "$1" ]; then (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum) \
    | sha256sum | cut -c1-64
  else printf '%s' "$1"; fi
}
content() { local v s=""; for v in "$@"; do s+="$v:sha256=$(fingerprint "${!v}");"; done; printf '%s' "$s"; }
metadata_files() { local f; for f in "$data_root"/*.json "$data_root"/*.txt; do if [ -f "$f" ]; then fingerprint "$f"; fi; done; }
common="dataset data_root exp_dir"
run_stage 0 "data" "$(opts $common $data_options)" stage_data
data_sig="$(opts train_split val_split)metadata:sha256=$(metadata_files | sha256sum | cut -c1-64);"  # after stage 0
visual_sig="$(opts visual_encoder crop store)$(content lip_weights)"
audio_sig="$(opts audio_layer store)$(content audio_encoder)"
train_inputs="$data_sig$visual_sig$audio_sig"  # what training reads besides its own options
run_stage 1 "manifests" "$(opts $common test_split need_words)$data_sig" stage_manifests
run_stage 2 "visual features" "$(opts $common)$visual_sig" stage_visual
run_stage 3 "audio features" "$(opts $common)$audio_sig" stage_audio
# --config auto (the LAV-DF and AV-Deepfake1M recipes' default): the dataset's own config ($dataset_config: a
# model sized for the full dataset) when the training split has at least $small_data_videos videos, else
# synthetic_small, a small model for a few hundred or thousand (on 440 training videos in the LAV-DF layout
# it was as accurate within the seeds' spread and trained 7-11x faster: docs/results.md, "Small datasets in the LAV-DF
# and AV-Deepfake1M recipes"; the threshold is a judgment).
if [ "$config" = auto ] && [ "$stop_stage" -ge 4 ]; then  # stages 4-7 read the config
  case "$small_data_videos" in
    ''|*[!0-9]*) echo "$0: error: --small_data_videos must be a whole number, got '$small_data_videos'" >&2; exit 2 ;;
  esac
  case "${small_data_members:-1}" in
    ''|*[!0-9]*|0) echo "$0: error: --small_data_members must be a whole number >= 1, got '$small_data_members'" >&2; exit 2 ;;
  esac
  train_manifest="$exp_dir/manifests/$train_split.jsonl"
  [ -f "$train_manifest" ] || { echo "$0: error: --config auto counts the videos of $train_manifest (stage 1); not found" >&2; exit 2; }
  n_train=$(grep -c . "$train_manifest" || true)
  chosen=""
  if [ "$n_train" -ge "$small_data_videos" ]; then config="$dataset_config"
  else
    config=avforge/configs/synthetic_small.yaml
    if [ "$members" = auto ]; then members=${small_data_members:-1}; chosen=", $members members (members auto)"; fi
  fi
  log "config auto: $n_train training videos -> $config$chosen"
fi
# --members auto (the LAV-DF and AV-Deepfake1M recipes' default): $small_data_members small detectors as one ensemble when
# --config auto chose the small model (on the 440 training videos of docs/results.md, "Small datasets", three seeds as
# one scored test AP@0.5 0.959 against 0.926 alone, visual-modified 0.932 against 0.895, no false alarm in 40 real
# videos, in 3 x the training), else one. --member_jobs auto: on CPU all members at once (a small detector does not keep
# the cores busy), on a GPU one after another.
[ "$members" != auto ] || members=1
if [ "$member_jobs" = auto ]; then
  if [ "$device" = cpu ] && [ "$side_by_side" = true ]; then member_jobs=$members; else member_jobs=1; fi
fi
member_dirs=("$exp_dir/train")
for ((k = 2; k <= members; k++)); do member_dirs+=("$exp_dir/train.member$k"); done
config_file="$config"; [ -f "$config_file" ] || config_file="avforge/configs/$config.yaml"  # a shipped stem
# The config is signed by what it says, not how it is written: comments and layout do not retrain. Its infer
# and postprocess sections are signed apart, by the stages that read them (5 and 6: an edit there re-runs only
# those). A file that is not a valid YAML mapping is signed by its bytes; training then stops with the error.
config_sigs=$(python -c 'import hashlib, json, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
h = lambda x: hashlib.sha256(json.dumps(x, sort_keys=True).encode()).hexdigest()
print(h({k: v for k, v in c.items() if k not in ("infer", "postprocess")}), h(c.get("infer")), h(c.get("postprocess")), h(c))' \
  "$config_file" 2>/dev/null || true)
read -r config_sig infer_sig post_sig whole_sig <<< "$config_sigs" || true
[[ "$config_sig" =~ ^[0-9a-f]{64}$ ]] || { config_sig=$(fingerprint "$config_file"); infer_sig=""; post_sig=""; whole_sig=""; }
config_sig="config_file:sha256=$config_sig;"
train_options="$(opts $common seed members train_set splice_at_words word_edges)"
adopt_whole_config_signatures() {
  # A training made before the infer and postprocess sections were signed apart holds the whole config's
  # signature: the same training, so its markers take the new signature instead of training again.
  local old="$train_options${whole_sig:+config_file:sha256=$whole_sig;}" new="$train_options$config_sig" k file
  [ -n "$whole_sig" ] || return 0
  if [ "$(cat "$exp_dir/done/stage_4" 2>/dev/null)" = "$old" ]; then printf '%s' "$new" > "$exp_dir/done/stage_4"; fi
  for ((k = 1; k <= members; k++)); do
    file="${member_dirs[k - 1]}/recipe_signature"
    if [ -f "$file" ] && [ "$(member_signature "$(cat "$file")")" = "$(member_signature "$old$train_inputs" "$k")" ]; then
      member_signature "$new$train_inputs" "$k" > "$file"
    fi
  done
}
adopt_whole_config_signatures
run_stage 4 "train" "$train_options$config_sig" stage_train
# The training folders of the model stages 5-7 score, for `avforge infer --checkpoint $exp_dir` (and predict)
if [ "$(cat "$exp_dir/done/stage_4" 2>/dev/null)" = "$train_options$config_sig" ]; then
  printf '%s\n' "${member_dirs[@]##*/}" > "$exp_dir/members.txt.tmp" && mv -f "$exp_dir/members.txt.tmp" "$exp_dir/members.txt"
fi
run_stage 5 "infer" "$(opts $common test_split)${infer_sig:+config_infer:sha256=$infer_sig;}" stage_predict
run_stage 6 "post-process" "$(opts $common nms top_k score_threshold)${nms_iou:+nms_iou=$nms_iou;}${post_sig:+config_postprocess:sha256=$post_sig;}" stage_postprocess
run_stage 7 "report" "$(opts $common protocol)$(content test_labels test_files)" stage_report
