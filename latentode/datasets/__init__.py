"""Data set loaders and generators. Each returns a long DataFrame (id, time, features)."""

from .synthetic import periodic, periodic_series, series_to_frame, spiral, spiral_series

__all__ = ["periodic", "periodic_series", "spiral", "spiral_series", "series_to_frame"]
