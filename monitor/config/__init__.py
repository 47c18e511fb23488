"""The config: typed models, the loader with line-numbered errors, durations and every piece of
schedule arithmetic (cron, digest periods, back-off)."""
from ..errors import ConfigError
from .loader import CONFIG_ENV, DATABASE_ENV, default_config_path, load_config
from .models import Config, DigestConfig, FeedConfig, MailConfig, SearchFeedConfig, WatchConfig

__all__ = ["CONFIG_ENV", "DATABASE_ENV", "Config", "ConfigError", "DigestConfig", "FeedConfig", "MailConfig",
           "SearchFeedConfig", "WatchConfig", "default_config_path", "load_config"]
