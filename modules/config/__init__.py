"""The configuration schema (one module per section) and its loader; `config/<env>.toml` files are its instances."""

from modules.config.environment import PipelineConfig
from modules.config.loader import ConfigError, config_path_from_env, load_config

__all__ = ["ConfigError", "PipelineConfig", "config_path_from_env", "load_config"]
