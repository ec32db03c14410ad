"""tracker: what a coalition wrote to whom, who answered, who has not and for how long."""

__version__ = "0.1.0"
