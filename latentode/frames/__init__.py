"""The pandas layer: long frames in, :class:`~latentode.data.batch.Series` out,
prediction frames back.

The pandas estimators take a *long* frame: one row per ``(series id, time)``, one column
per target feature, ``NaN`` where a feature is not observed at that time. One concept
per module:

* :mod:`.errors`: :class:`DataFrameError` and the helpers of its messages;
* :mod:`.times`: user times (numbers, or datetimes naive or tz-aware) to float64 and back
  (:class:`TimeCodec`), keeping precision by subtracting a fitted origin;
* :mod:`.targets`: which columns are targets (:func:`resolve_targets`);
* :mod:`.validation`: :func:`check_frame`, errors that name the offending column or
  series and say how to fix it;
* :mod:`.conversion`: one :class:`Series` per id (:func:`frame_to_series`);
* :mod:`.scaler`: target standardization with a scikit-learn ``StandardScaler``, stored
  as JSON;
* :mod:`.queries`: the ``times`` argument of ``predict`` (:func:`query_times`), quantile
  levels, horizons;
* :mod:`.outputs`: the output frame of ``predict`` (:func:`predictions_frame`);
* :mod:`.labels`: class labels per series or per row;
* :mod:`.covariates`: static and input columns (:class:`CovariateSpec`);
* :mod:`.training`: a training frame to targets, encodings and series
  (:func:`training_series`);
* :mod:`.events`: event frames, windows and their conversion.

Rows where every target is ``NaN`` are kept: they are query times. Nothing is dropped
silently; merging duplicate ``(id, time)`` rows (``duplicates="mean"``) warns with a count.
"""

from .conversion import frame_to_series, given_times
from .covariates import CovariateSpec, covariate_columns
from .errors import DataFrameError
from .events import EventSequence, check_events, cut_windows, events_to_series, window_tuples
from .labels import attach_labels
from .outputs import predictions_frame
from .queries import QueryTimes, check_quantiles, horizon_units, query_times
from .scaler import fit_scaler, scaler_from_dict, scaler_to_dict
from .targets import resolve_targets
from .times import TimeCodec
from .training import training_series
from .validation import check_frame

__all__ = [
    "CovariateSpec",
    "covariate_columns",
    "given_times",
    "training_series",
    "QueryTimes",
    "DataFrameError",
    "TimeCodec",
    "check_frame",
    "resolve_targets",
    "frame_to_series",
    "fit_scaler",
    "scaler_to_dict",
    "scaler_from_dict",
    "predictions_frame",
    "query_times",
    "check_quantiles",
    "horizon_units",
    "attach_labels",
    "EventSequence",
    "check_events",
    "events_to_series",
    "cut_windows",
    "window_tuples",
]
