"""Input checks of the report: the results against the stack, the mean spectrum, the limits,
and reading what the report shows from a result (its evaluation, isotope pairs, parameters)."""
from dataclasses import dataclass

import numpy as np


def check_results(stack, results):
    """``results`` as a dict of str → result, each matching ``stack``; raises ValueError."""
    for attribute in ("images", "mask", "mz"):
        if not hasattr(stack, attribute):
            raise ValueError(f"stack must be an IonImageStack (images, mask, mz), got {type(stack).__name__}")
    if hasattr(results, "labels") and hasattr(results, "method"):
        results = {results.method: results}
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a non-empty dict of method name -> IonImageClusteringResult")
    n_images = len(np.asarray(stack.mz))
    for name, result in results.items():
        labels = np.asarray(result.labels)
        if labels.shape != (n_images,) or np.asarray(result.mz).shape != (n_images,):
            raise ValueError(f"results[{name!r}] has {labels.shape[0] if labels.ndim else 0} labels and "
                             f"{np.size(result.mz)} m/z values, but the stack has {n_images} ion images")
        if np.asarray(result.embedding).shape[0] != n_images:
            raise ValueError(f"results[{name!r}].embedding has {np.asarray(result.embedding).shape[0]} rows, "
                             f"expected {n_images}")
        n_clusters = int(labels.max()) + 1 if labels.size else 0
        members = getattr(result, "members", None)
        if members is None or len(members) != n_clusters:
            raise ValueError(f"results[{name!r}] has labels 0 … {n_clusters - 1} but "
                             f"{'no' if members is None else len(members)} member lists; give one per cluster")
    return {str(name): result for name, result in results.items()}


def check_spectrum(mean_spectrum):
    """``(mz, intensities)`` sorted by m/z, non-finite intensities as 0; None stays None."""
    if mean_spectrum is None:
        return None
    try:
        mz, intensities = mean_spectrum
    except (TypeError, ValueError):
        raise ValueError("mean_spectrum must be a pair (mz, intensities)") from None
    mz, intensities = np.asarray(mz, np.float64).ravel(), np.asarray(intensities, np.float64).ravel()
    if mz.shape != intensities.shape or mz.size < 2:
        raise ValueError(f"mean_spectrum: mz and intensities must be 1-D of one length >= 2, got "
                         f"{np.shape(mean_spectrum[0])} and {np.shape(mean_spectrum[1])}")
    order = np.argsort(mz, kind="stable")
    intensities = np.nan_to_num(intensities[order], nan=0.0, posinf=0.0, neginf=0.0)
    return mz[order], intensities


def check_limits(max_clusters, max_members, max_isotope_panels):
    if int(max_clusters) < 1 or int(max_members) < 0 or int(max_isotope_panels) < 0:
        raise ValueError(f"max_clusters must be >= 1 and max_members, max_isotope_panels >= 0, got "
                         f"{max_clusters}, {max_members}, {max_isotope_panels}")
    return int(max_clusters), int(max_members), int(max_isotope_panels)


def evaluation_value(evaluation, key, default=None):
    """One value of a result's evaluation (a dict, or a bound struct with attributes)."""
    if evaluation is None:
        return default
    if isinstance(evaluation, dict):
        return evaluation.get(key, default)
    return getattr(evaluation, key, default)


@dataclass
class IsotopePairs:
    """The isotope pairs a run found, as its evaluation carries them (never searched again)."""
    index: np.ndarray      # (n, 2) int64: light, heavy ion-image index
    mz: np.ndarray         # (n, 2) float64
    charge: np.ndarray     # (n,) int64
    tolerance: float
    unit: str              # "ppm" or "da"
    max_charge: int
    spacing: float

    def describe(self):
        unit = "Da" if self.unit.lower() == "da" else "ppm"
        return (f"m/z spacing {self.spacing:g}/z Da ± {self.tolerance:g} {unit}, z = 1"
                + (f" … {self.max_charge}" if self.max_charge > 1 else ""))


def isotope_pairs(result, n_images):
    """The result's isotope pairs (``evaluation["isotope_pair_index"]`` etc., from C++), or None
    when the result carries none. Raises ValueError for pairs that do not fit the result."""
    e = getattr(result, "evaluation", None)
    index = evaluation_value(e, "isotope_pair_index")
    if index is None:
        return None
    index = np.asarray(index, np.int64).reshape(-1, 2)
    if index.size and (index.min() < 0 or index.max() >= n_images):
        raise ValueError(f"evaluation['isotope_pair_index'] indexes ion images {index.min()} … {index.max()}, "
                         f"but the result has {n_images}")
    mz = np.asarray(result.mz, np.float64)
    pair_mz = evaluation_value(e, "isotope_pair_mz")
    pair_mz = mz[index] if pair_mz is None else np.asarray(pair_mz, np.float64).reshape(-1, 2)
    charge = evaluation_value(e, "isotope_pair_charge")
    charge = np.ones(len(index), np.int64) if charge is None else np.asarray(charge, np.int64).reshape(-1)
    if len(pair_mz) != len(index) or len(charge) != len(index):
        raise ValueError(f"evaluation: {len(index)} isotope pairs but {len(pair_mz)} m/z pairs and {len(charge)} charges")
    return IsotopePairs(index=index, mz=pair_mz, charge=charge,
                        tolerance=float(evaluation_value(e, "isotope_tolerance", float("nan"))),
                        unit=str(evaluation_value(e, "isotope_unit", "ppm")),
                        max_charge=int(evaluation_value(e, "isotope_max_charge", 1)),
                        spacing=float(evaluation_value(e, "isotope_spacing", 1.00336)))
