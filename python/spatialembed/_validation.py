"""Input conversion shared by the estimators: NumPy in, C-contiguous float32 out."""
import os

import numpy as np


def as_float32_matrix(X, name="X"):
    """Return ``X`` as a C-contiguous float32 array of shape (n_samples, n_features).

    Copies only when the dtype or the memory layout differs.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D, not numeric, or holds finite values beyond float32's range.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_features), got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {X.dtype}")
    with np.errstate(over="ignore"):  # reported below with the position
        converted = np.ascontiguousarray(X, dtype=np.float32)
    if converted.dtype != X.dtype and X.dtype.kind == "f":
        overflow = np.isinf(converted) & np.isfinite(X)
        if overflow.any():
            row, col = np.argwhere(overflow)[0]
            raise ValueError(f"{name}[{row}, {col}] = {X[row, col]} is outside the float32 range")
    return converted


def as_sample_weight(sample_weight, n_samples):
    """Return ``sample_weight`` as a float64 vector of length ``n_samples``, or None."""
    if sample_weight is None:
        return None
    weights = np.ascontiguousarray(sample_weight, dtype=np.float64)
    if weights.ndim != 1 or weights.shape[0] != n_samples:
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {weights.shape}")
    return weights


def num_threads(n_jobs):
    """Map scikit-learn's ``n_jobs`` to the C++ ``num_threads`` (0 = all cores).

    None and -1 mean all cores, -2 all but one (joblib's convention), k > 0 means k.
    """
    if n_jobs is None:
        return 0
    n_jobs = int(n_jobs)
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use None or -1 for all cores, or a positive count")
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return n_jobs


def tolerance(tol_ppm, tol_da, default_ppm=10.0):
    """(value, unit) of an m/z tolerance given as ``tol_ppm`` or ``tol_da`` (at most one);
    ``default_ppm`` ppm when neither is given."""
    if tol_ppm is not None and tol_da is not None:
        raise ValueError("give tol_ppm or tol_da, not both")
    if tol_da is not None:
        return float(tol_da), "da"
    return float(default_ppm if tol_ppm is None else tol_ppm), "ppm"
