#!/usr/bin/env bash
# LAV-DF: train on train, select on dev, score test with the LAV-DF protocol (frames at 25 fps).
#   bash recipes/lavdf/run.sh --data_root /data/LAV-DF --audio_encoder microsoft/wavlm-base-plus --ngpu 1
# Every variable below can be overridden as a flag (--name value); --help lists them.
set -euo pipefail
cd "$(dirname "$0")/../.."

stage=0
stop_stage=7
dataset=lavdf
data_root=data/LAV-DF              # holds metadata.json (or metadata.min.json) and train/ dev/ test/
exp_dir=exp/lavdf
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
config=auto                        # auto: lavdf.yaml from small_data_videos training videos on, else synthetic_small
small_data_videos=5000             # (as accurate on 440 videos, 7-11x faster; docs/results.md, "Small datasets")
small_data_members=3               # members of that small model (ensemble: test AP@0.5 0.926 -> 0.959 on 440 videos)
train_set=""
nms=soft
nms_iou=""                         # with --nms hard: its IoU threshold (empty: the config's); docs/results.md, "Post-processing"
top_k=100
score_threshold=0
protocol=lavdf
ngpu=0
splice_at_words=false            # true: pseudo-forgeries cut at the metadata's word timings (sharper edges, more false alarms; docs/results.md)
word_edges=true                  # also learn where the metadata's words start and end (sharper boundaries; docs/results.md)
store=files                      # feature stores: files (one float32 .npy per video) | packed16 (float16, a few large files)
recipe_options=(members member_jobs train_set splice_at_words word_edges stage stop_stage data_root exp_dir seed visual_encoder lip_weights crop
  audio_encoder audio_layer config small_data_videos small_data_members nms nms_iou top_k score_threshold protocol ngpu store)
source recipes/common/parse_options.sh "$@"
dataset_config=avforge/configs/lavdf.yaml

train_split=train; val_split=dev; test_split=test
test_labels="$data_root/metadata.json"; [ -f "$test_labels" ] || test_labels="$data_root/metadata.min.json"
test_files=""
data_options=""
stage_data() {
  [ -f "$test_labels" ] || { echo "error: no metadata.json in $data_root (get LAV-DF, then --data_root DIR)" >&2; return 1; }
  echo "LAV-DF found at $data_root"
}
source recipes/common/pipeline.sh
