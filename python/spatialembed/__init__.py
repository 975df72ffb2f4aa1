"""spatialembed: embeddings and clustering for spatial-omics images.

The estimators follow scikit-learn's conventions (``fit``, ``fit_predict``,
``get_params``/``set_params``) and work inside :class:`sklearn.pipeline.Pipeline`.
"""
from ._core import __version__
from .cluster import DBSCAN
from .neighbors import k_distance
from .msi import ImzMLReader, ImzMLWriter, IonImageStack, isotope_pairs, pick_peaks

__all__ = ["DBSCAN", "k_distance", "__version__"]
__all__ += ["ImzMLReader", "ImzMLWriter", "IonImageStack", "isotope_pairs", "pick_peaks"]
