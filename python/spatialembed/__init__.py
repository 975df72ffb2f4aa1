"""spatialembed: embeddings and clustering for spatial-omics images.

The estimators follow scikit-learn's conventions (``fit``, ``fit_predict``,
``get_params``/``set_params``) and work inside :class:`sklearn.pipeline.Pipeline`.
"""
from ._core import __version__
from .cluster import DBSCAN
from .neighbors import k_distance

__all__ = ["DBSCAN", "k_distance", "__version__"]
