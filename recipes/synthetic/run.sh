#!/usr/bin/env bash
# The synthetic AV-forgery benchmark, end to end on CPU: generate → features → train → score.
#   bash recipes/synthetic/run.sh [--stage N] [--stop_stage M] [--n_clips 1000] [--ngpu 0] ...
# Every variable below can be overridden as a flag (--name value); --help lists them.
set -euo pipefail
cd "$(dirname "$0")/../.."

stage=0
stop_stage=7
dataset=avdeepfake1m               # the generator writes this real layout (or lavdf)
data_root=data/synthetic
exp_dir=exp/synthetic
n_clips=1000
seed=0
members=1                          # detectors (seeds seed, seed+1, ...) run as one ensemble: N x the training time
member_jobs=1                      # members trained at once (on CPU each with cores / the members of its round; README)
difficulty=0.5
forgery=artefacts                  # artefacts | mismatch (no artefact: only lips vs speech disagree)
face=drawn                         # drawn | photo (a warped real portrait: a second renderer)
size=96                            # frame side in pixels (LAV-DF / AV-Deepfake1M face crops are 224)
workers=2
visual_encoder=lip-light           # lip-light | lip-resnet
lip_weights=""                     # Auto-AVSR visual checkpoint (switches to lip-resnet)
crop=""                            # mouth crop; default avsr with --lip_weights, else detect | fixed
audio_encoder=logmel               # logmel | HF name or folder, e.g. microsoft/wavlm-base-plus
audio_layer=last
config=avforge/configs/synthetic_small.yaml
train_set=""                       # extra space-separated key=value overrides for avforge train
nms=soft
nms_iou=""                         # with --nms hard: its IoU threshold (empty: the config's); docs/results.md, "Post-processing"
top_k=100
score_threshold=0
protocol=avdeepfake1m
ngpu=0
splice_at_words=false            # true: pseudo-forgeries cut at the transcripts' word boundaries (docs/results.md)
word_edges=true                  # also learn where the transcripts' words start and end (sharper boundaries; docs/results.md)
store=files                      # feature stores: files (one float32 .npy per video) | packed16 (float16, a few large files)
recipe_options=(members member_jobs train_set splice_at_words word_edges stage stop_stage dataset data_root exp_dir n_clips seed difficulty forgery face size workers
  visual_encoder lip_weights crop audio_encoder audio_layer config nms nms_iou top_k score_threshold protocol ngpu store)
source recipes/common/parse_options.sh "$@"

if [ "$dataset" = lavdf ]; then train_split=train; val_split=dev; test_split=test
  test_labels="$data_root/metadata.json"
else train_split=train; val_split=val; test_split=test
  test_labels="$data_root/hidden_labels/test_metadata.json"  # labels the generator keeps aside
fi
test_files=""
data_options="n_clips seed difficulty forgery face size"
# Stage 0 replaces --data_root when it holds another synthetic dataset (other options); it never deletes
# anything else: a folder holding other files, or the experiment folder itself, is refused before any work.
if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  data_abs=$(realpath -m -- "$data_root"); exp_abs=$(realpath -m -- "$exp_dir")
  case "$exp_abs/" in
    "$data_abs"/*) echo "$0: error: --exp_dir $exp_dir is inside --data_root $data_root, which stage 0 replaces;" \
                        "put them side by side" >&2; exit 2 ;;
  esac
  if [ -d "$data_root" ] && [ -n "$(ls -A -- "$data_root")" ] && [ ! -f "$data_root/synth_config.json" ]; then
    echo "$0: error: --data_root $data_root holds files that are not a synthetic dataset; stage 0 would" \
         "replace them: give an empty or new folder" >&2; exit 2
  fi
fi
stage_data() {
  python -m avforge synth --out "$data_root" --n "$n_clips" --seed "$seed" --layout "$dataset" \
    --difficulty "$difficulty" --forgery "$forgery" --face "$face" --size "$size" --workers "$workers" --force
}
source recipes/common/pipeline.sh
