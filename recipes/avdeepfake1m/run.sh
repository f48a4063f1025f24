#!/usr/bin/env bash
# AV-Deepfake1M / AV-Deepfake1M++: train on train, select on val, then score val or export the
# challenge submission for the unlabeled test split.
#   bash recipes/avdeepfake1m/run.sh --data_root /data/AV-Deepfake1M --audio_encoder microsoft/wavlm-base-plus \
#     --lip_weights vsr_trlrs3_base.pth --ngpu 8
# Every variable below can be overridden as a flag (--name value); --help lists them.
set -euo pipefail
cd "$(dirname "$0")/../.."

stage=0
stop_stage=7
dataset=avdeepfake1m
data_root=data/AV-Deepfake1M       # holds train_metadata.json, val_metadata.json, test_files.txt, train/ val/ test/
exp_dir=exp/avdeepfake1m
test_split=val                     # val: scored here; test / testA / testB: exported as a submission
seed=0
members=auto                       # detectors (seeds seed, seed+1, ...) run as one ensemble: N x the training time;
                                   # auto: small_data_members with the small model of config auto, else 1
member_jobs=auto                   # members trained at once (on CPU each with cores / the members of its round; README);
                                   # auto: all on CPU, one at a time on a GPU
visual_encoder=lip-light
lip_weights=""
crop=""                            # mouth crop; default avsr with --lip_weights, else detect | fixed
audio_encoder=logmel
audio_layer=last
config=auto                        # auto: avdeepfake1m.yaml from small_data_videos training videos on, else synthetic_small
small_data_videos=5000             # (as accurate on 440 videos, 7-11x faster; docs/results.md, "Small datasets")
small_data_members=3               # members of that small model (ensemble: test AP@0.5 0.926 -> 0.959 on 440 videos)
train_set=""
nms=soft
nms_iou=""                         # with --nms hard: its IoU threshold (empty: the config's); docs/results.md, "Post-processing"
top_k=100
score_threshold=0
protocol=avdeepfake1m
ngpu=0
splice_at_words=false            # true: pseudo-forgeries cut at the metadata's word timings (sharper edges, more false alarms; docs/results.md)
word_edges=true                  # also learn where the metadata's words start and end (sharper boundaries; docs/results.md)
store=packed16                   # feature stores: packed16 (float16, a few large files: 1M videos) | files (one float32 .npy each)
recipe_options=(members member_jobs train_set splice_at_words word_edges stage stop_stage data_root exp_dir test_split seed visual_encoder lip_weights crop
  audio_encoder audio_layer config small_data_videos small_data_members nms nms_iou top_k score_threshold protocol ngpu store)
source recipes/common/parse_options.sh "$@"
dataset_config=avforge/configs/avdeepfake1m.yaml

train_split=train; val_split=val
if [ -f "$data_root/${test_split}_metadata.json" ]; then test_labels="$data_root/${test_split}_metadata.json"; test_files=""
else test_labels=""; test_files="$data_root/${test_split}_files.txt"; fi
data_options=""
stage_data() {
  local f
  for f in train_metadata.json val_metadata.json; do
    [ -f "$data_root/$f" ] || { echo "error: $data_root/$f not found (get AV-Deepfake1M, then --data_root DIR)" >&2; return 1; }
  done
  [ -n "$test_labels" ] || [ -f "$test_files" ] || { echo "error: $test_files not found" >&2; return 1; }
  echo "AV-Deepfake1M found at $data_root"
}
source recipes/common/pipeline.sh
