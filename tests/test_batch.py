import numpy as np
import pytest
import torch

from latentode.data import Series, collate, split_extrapolation, subsample_observed
from latentode.data.scaling import fit_time_scale


def test_collate_sorts_pads_and_masks():
    a = Series(times=[2.0, 0.0, 1.0], values=[[2.0, np.nan], [0.0, 0.5], [1.0, 1.5]], id="a")
    b = Series(times=[5.0], values=[[7.0, 8.0]], id="b", label=1)
    batch = collate([a, b])
    assert batch.times.shape == (2, 3) and batch.values.shape == (2, 3, 2)
    assert batch.times[0].tolist() == [0.0, 1.0, 2.0]
    assert batch.times[1].tolist() == [5.0, 5.0, 5.0]  # padding repeats the last time
    assert batch.values[0, :, 0].tolist() == [0.0, 1.0, 2.0]
    assert batch.mask[0, 2].tolist() == [1.0, 0.0]  # NaN is unobserved
    assert batch.mask[1, 1:].sum() == 0 and batch.lengths.tolist() == [3, 1]
    assert batch.point_mask.tolist() == [[True, True, True], [True, False, False]]
    assert batch.ids == ["a", "b"]
    sub = batch.select([1])
    assert sub.ids == ["b"] and sub.times.shape == (1, 3)


def test_collate_rejects_mismatched_features_and_empty():
    a = Series(times=[0.0], values=[[1.0, 2.0]], id="a")
    b = Series(times=[0.0], values=[[1.0]], id="b")
    with pytest.raises(ValueError, match="'b'.*features"):
        collate([a, b])
    with pytest.raises(ValueError):
        collate([])


def test_series_validates_lengths():
    with pytest.raises(ValueError, match="one row of values per time"):
        Series(times=[0.0, 1.0], values=[[1.0]], id="x")


def test_protocols():
    s = Series(times=np.arange(10.0), values=np.arange(10.0)[:, None])
    (sub,) = subsample_observed([s], 0.3, seed=0)
    assert sub.obs_mask.sum() == 3 and sub.target_mask.sum() == 10
    (held,) = subsample_observed([s], 0.3, seed=0, score_all=False)
    assert not (held.obs_mask & held.target_mask).any()
    (ex,) = split_extrapolation([s], 0.5)
    assert ex.obs_mask[:, 0].tolist() == [True] * 5 + [False] * 5
    assert ex.target_mask[:, 0].tolist() == [False] * 5 + [True] * 5
    with pytest.raises(ValueError):
        subsample_observed([s], 0.0)


def test_subsample_after_extrapolation_split_stays_before_the_cut():
    # Regression: subsample_observed drew from every observed point, so after
    # split_extrapolation the encoder could see points after the cut.
    s = Series(times=np.arange(30.0), values=np.arange(60.0).reshape(30, 2))
    for seed in range(5):
        (ex,) = subsample_observed(split_extrapolation([s], 1 / 3), 0.5, seed=seed)
        seen = np.flatnonzero(ex.obs_mask.any(1))
        assert len(seen) == 5 and seen.max() <= 9  # round(0.5 * 10 points before t = 29/3)
        assert ex.target_mask[:, 0].tolist() == [False] * 10 + [True] * 20
        (held,) = subsample_observed(split_extrapolation([s], 1 / 3), 0.5, seed, score_all=False)
        assert held.target_mask[:, 0].tolist() == [False] * 10 + [True] * 20
    # a series whose encoder sees nothing is returned as it is
    empty = s.with_masks(np.zeros((30, 2), bool), None)
    (same,) = subsample_observed([empty], 0.5)
    assert not same.obs_mask.any() and same.target_mask.all()


def test_fit_time_scale():
    a = Series(times=[1.0, 3.0], values=[[0.0], [0.0]])
    b = Series(times=[10.0, 11.0], values=[[0.0], [0.0]])
    assert fit_time_scale([a, b]) == (1.0, 20 * 1.5)  # median of gaps 2 and 1
    assert fit_time_scale([Series(times=[4.0], values=[[1.0]])]) == (4.0, 1.0)


def test_batch_to_dtype():
    b = collate([Series(times=[0.0, 1.0], values=[[1.0], [2.0]])]).to("cpu", torch.float64)
    assert b.values.dtype == torch.float64 and b.lengths.dtype == torch.long
