"""Reading and writing the command line's CSV and Parquet long frames."""

from __future__ import annotations

from typing import Any

__all__ = ["read_frame", "write_frame"]


def read_frame(path: str, time_col: str | None = None) -> Any:
    """CSV or Parquet by extension; a text ``time_col`` is parsed as datetimes."""
    import pandas as pd

    from ..frames import DataFrameError

    lower = path.lower()
    try:
        if lower.endswith((".parquet", ".pq")):
            df = pd.read_parquet(path)
        elif lower.endswith((".csv", ".csv.gz", ".txt")):
            df = pd.read_csv(path)
        else:
            raise DataFrameError(f"{path}: unknown file type; use a .csv or .parquet file.")
    except FileNotFoundError:
        raise DataFrameError(f"{path}: no such file.") from None
    if time_col is not None and time_col in df and df[time_col].dtype == object:
        try:
            df[time_col] = pd.to_datetime(df[time_col], format="ISO8601")
        except (ValueError, TypeError):
            raise DataFrameError(
                f"{path}: column {time_col!r} holds text that is not a date/time; write numbers "
                "or ISO 8601 datetimes."
            ) from None
    return df


def write_frame(df: Any, path: str) -> None:
    """Parquet for ``.parquet`` / ``.pq``, CSV otherwise; no index column."""
    if path.lower().endswith((".parquet", ".pq")):
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)
