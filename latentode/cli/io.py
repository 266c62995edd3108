"""Reading and writing the command line's CSV and Parquet long frames; every failure is
a :class:`~latentode.frames.DataFrameError` naming the file."""

from __future__ import annotations

from typing import Any

__all__ = ["read_frame", "write_frame"]

_PARQUET = (".parquet", ".pq")


def read_frame(path: str, time_col: str | None = None) -> Any:
    """CSV or Parquet by extension; a text ``time_col`` is parsed as datetimes."""
    import pandas as pd

    from ..frames import DataFrameError

    lower = path.lower()
    if not lower.endswith((*_PARQUET, ".csv", ".csv.gz", ".txt")):
        raise DataFrameError(f"{path}: unknown file type; use a .csv or .parquet file.")
    try:
        df = pd.read_parquet(path) if lower.endswith(_PARQUET) else pd.read_csv(path)
    except FileNotFoundError:
        raise DataFrameError(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise DataFrameError(f"{path}: is a folder; give a .csv or .parquet file.") from None
    except ImportError as err:
        raise DataFrameError(
            f"{path}: reading Parquet needs pyarrow or fastparquet ({err}); install one "
            "(pip install pyarrow) or give a CSV file."
        ) from None
    except pd.errors.EmptyDataError:
        raise DataFrameError(f"{path}: the file is empty; it needs a header row.") from None
    except pd.errors.ParserError as err:
        raise DataFrameError(f"{path}: not a readable CSV file ({err}).") from None
    except UnicodeDecodeError as err:
        raise DataFrameError(
            f"{path}: not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8."
        ) from None
    except OSError as err:
        raise DataFrameError(f"{path}: cannot be read ({err.strerror or err}).") from None
    except (ValueError, TypeError) as err:  # e.g. a damaged Parquet file
        raise DataFrameError(f"{path}: cannot be read as a long frame ({err}).") from None
    if time_col is not None and time_col in df and _is_text(df[time_col]):
        try:
            df[time_col] = pd.to_datetime(df[time_col], format="ISO8601")
        except (ValueError, TypeError):
            raise DataFrameError(
                f"{path}: column {time_col!r} holds text that is not a date/time; write numbers "
                "or ISO 8601 datetimes."
            ) from None
    return df


def _is_text(column: Any) -> bool:
    """Text, whether pandas stores it as ``object`` or (pandas >= 3) as ``str``."""
    import pandas as pd

    dtype = column.dtype
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)


def write_frame(df: Any, path: str) -> None:
    """Parquet for ``.parquet`` / ``.pq``, CSV otherwise; no index column."""
    from ..frames import DataFrameError

    try:
        if path.lower().endswith(_PARQUET):
            df.to_parquet(path, index=False)
        else:
            df.to_csv(path, index=False)
    except ImportError as err:
        raise DataFrameError(
            f"{path}: writing Parquet needs pyarrow or fastparquet ({err}); install one or "
            "write a .csv file."
        ) from None
    except OSError as err:
        raise DataFrameError(
            f"{path}: cannot be written ({err.strerror or err}); does its folder exist?"
        ) from None
