"""MSI signal processing in C++ (msi/peak_width.hpp, msi/mz_matching.hpp) against the former
Python implementations of ``workflow.peak_half_width_ppm`` and ``workflow._match_mz``, written
out here as NumPy references, on the real mouse-kidney mean spectrum and the bladder m/z."""
import numpy as np
import pytest

from spatialembed import ImzMLReader, pick_peaks
from spatialembed.msi import match_mz, peak_half_width_ppm
from spatialembed import workflow


def reference_half_width_ppm(mz, intensities, index):
    """The former workflow.peak_half_width_ppm: walks each peak's two sides in Python."""
    mz, y = np.asarray(mz, np.float64), np.asarray(intensities, np.float64)
    widths = []
    for i in np.asarray(index, dtype=np.int64):
        half = y[i] / 2
        if half <= 0:
            continue
        sides = []
        for step in (-1, 1):
            j = i
            while 0 <= j + step < len(y) and y[j] > half and y[j + step] <= y[j]:
                j += step
            if y[j] <= half:
                t = (y[j - step] - half) / (y[j - step] - y[j])
                sides.append(mz[j - step] + t * (mz[j] - mz[j - step]))
            else:
                sides.append(mz[j])
        widths.append((sides[1] - sides[0]) / 2 / mz[i] * 1e6)
    return float(np.median(widths)) if widths else float("nan")


def reference_match_mz(mz, reference_mz, tolerance, unit):
    """The former workflow._match_mz (argsort made stable: equal references → lowest index)."""
    order = np.argsort(reference_mz, kind="stable")
    ref = reference_mz[order]
    pos = np.clip(np.searchsorted(ref, mz), 1, max(len(ref) - 1, 1))
    candidates = np.stack([pos - 1, np.minimum(pos, len(ref) - 1)])
    distance = np.abs(ref[candidates] - mz)
    best = candidates[np.argmin(distance, axis=0), np.arange(len(mz))]
    limit = tolerance if unit == "da" else mz * tolerance * 1e-6
    return np.where(np.abs(ref[best] - mz) <= limit, order[best], -1)


@pytest.fixture(scope="module")
def kidney_spectrum(data_dir):
    with ImzMLReader(data_dir / "msi" / "mouse_kidney" / "mouse_kidney_nyakas2013.imzML") as reader:
        return reader.mean_spectrum()


def test_peak_half_width_matches_the_former_python_on_the_kidney_spectrum(kidney_spectrum):
    mz, y = kidney_spectrum
    for top_n, half_window in ((100, 20), (30, 5), (0, 3)):
        index = pick_peaks(mz, y, snr=3.0, half_window=half_window, top_n=top_n)["index"]
        assert len(index) > 10
        expected = reference_half_width_ppm(mz, y, index)
        assert peak_half_width_ppm(mz, y, index) == pytest.approx(expected, rel=1e-12)
        assert 50 < expected < 5000  # TOF peaks at m/z 2400-11000: hundreds of ppm
        # odd and even counts (the median of an even count averages the middle two)
        assert peak_half_width_ppm(mz, y, index[:-1]) == pytest.approx(
            reference_half_width_ppm(mz, y, index[:-1]), rel=1e-12)
    # every point a "peak": valleys, plateaus and both ends of the spectrum
    every = np.arange(len(mz))
    assert peak_half_width_ppm(mz, y, every) == pytest.approx(reference_half_width_ppm(mz, y, every), rel=1e-12)
    assert workflow.peak_half_width_ppm is peak_half_width_ppm  # the workflow calls the C++ one
    assert np.isnan(peak_half_width_ppm(mz, np.zeros_like(y), [5, 9]))
    with pytest.raises(ValueError, match="outside the spectrum"):
        peak_half_width_ppm(mz, y, [len(mz)])
    with pytest.raises(ValueError, match="intensities"):
        peak_half_width_ppm(mz, y[:-1], [1])


def test_match_mz_matches_the_former_python(data_dir, kidney_spectrum):
    # the bladder PNG names against kidney-like random references, and the kidney peaks against themselves shifted
    bladder = np.sort([float(p.stem) for p in (data_dir / "msi" / "mouse_bladder_png").glob("*.png")])
    rng = np.random.default_rng(5)
    reference = np.concatenate([bladder + rng.normal(scale=0.01, size=bladder.size), rng.uniform(400, 1000, 100)])
    for tolerance, unit in ((10.0, "ppm"), (30.0, "ppm"), (0.02, "da"), (0.005, "da")):
        expected = reference_match_mz(bladder, reference, tolerance, unit)
        got = match_mz(bladder, reference, tolerance=tolerance, unit=unit)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, expected)
        assert 0 < (expected >= 0).sum() < bladder.size or unit == "da" and tolerance == 0.02
    mz, y = kidney_spectrum
    peaks = pick_peaks(mz, y, top_n=100)["mz"]
    shifted = peaks * (1 + rng.normal(scale=20e-6, size=peaks.size))
    np.testing.assert_array_equal(match_mz(shifted, peaks, tolerance=25, unit="ppm"),
                                  reference_match_mz(shifted, peaks, 25, "ppm"))
    # defaults from the C++ options struct (10 ppm), an empty reference, bad options
    assert match_mz([1000.0099, 1000.0101], [1000.0]).tolist() == [0, -1]
    assert match_mz([500.0], []).tolist() == [-1]
    with pytest.raises(ValueError, match="tolerance"):
        match_mz([500.0], [500.0], tolerance=0)
    with pytest.raises(ValueError, match="unit|ppm"):
        match_mz([500.0], [500.0], unit="furlong")
