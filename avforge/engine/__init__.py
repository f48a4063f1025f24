"""avforge.engine: experiment configs, the trainer (DDP, AMP, exact resume), safetensors
checkpoints, sliding-window inference and the raw-output cache."""
from avforge.engine.config import ExperimentConfig, InferConfig, load_experiment
from avforge.engine.experiment import train_experiment
from avforge.engine.inference import Predictor, load_predictor, predict_features, predict_manifest
from avforge.engine.rawcache import RawOutput, load_raw, read_index, save_raw
from avforge.engine.train_config import TrainConfig
from avforge.engine.trainer import Trainer

__all__ = ["ExperimentConfig", "InferConfig", "Predictor", "RawOutput", "TrainConfig", "Trainer", "load_experiment",
           "load_predictor", "load_raw", "predict_features", "predict_manifest", "read_index", "save_raw",
           "train_experiment"]
