"""spatialembed: embeddings and clustering for spatial-omics images.

The estimators follow scikit-learn's conventions (``fit``, ``fit_predict``,
``get_params``/``set_params``) and work inside :class:`sklearn.pipeline.Pipeline`.
"""
from ._core import __version__
from .cluster import DBSCAN
from .manifold import UMAP
from .metrics import knn_recall, nearest_neighbors, trustworthiness
from .msi import ImzMLReader, ImzMLWriter, IonImageStack, isotope_pairs, pick_peaks
from .neighbors import k_distance
from .nn import Embedder
from .simulate import load_truth, simulate_tissue

__all__ = ["DBSCAN", "Embedder", "UMAP", "ImzMLReader", "ImzMLWriter", "IonImageStack", "isotope_pairs", "k_distance",
           "knn_recall", "nearest_neighbors", "load_truth", "pick_peaks", "simulate_tissue", "trustworthiness",
           "__version__"]
