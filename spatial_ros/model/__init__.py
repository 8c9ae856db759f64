"""SpatialMamba: the depth-aware Mamba referring/grasp model (config, processing, model,
checkpoints, inference, training). ``SpatialMamba.from_pretrained()`` loads the shipped tiny
checkpoint."""

from spatial_ros.model.config import PRESETS, SpatialMambaConfig, preset_config
from spatial_ros.model.spatial_mamba import SpatialMamba, SpatialMambaOutput

__all__ = ["PRESETS", "SpatialMamba", "SpatialMambaConfig", "SpatialMambaOutput",
           "preset_config"]
