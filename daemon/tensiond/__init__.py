"""tensiond: geopolitical tension alerts from news feeds to Slack."""

__version__ = "0.1.0"
