"""spatialembed: embeddings and clustering for spatial-omics images.

The estimators follow scikit-learn's conventions (``fit``, ``fit_predict``,
``get_params``/``set_params``) and work inside :class:`sklearn.pipeline.Pipeline`.
"""
from ._core import UnsafeOutputError, __version__
from .cluster import DBSCAN, HDBSCAN
from .manifold import UMAP
from .metrics import (adjusted_rand_score, knn_recall, nearest_neighbors, normalized_mutual_info_score,
                      silhouette_samples, silhouette_score, trustworthiness)
from .msi import ImzMLReader, ImzMLWriter, IonImageStack, isotope_pairs, pick_peaks
from .neighbors import k_distance, k_distance_knee
from .nn import Embedder
from .pipeline import IonImageClustering, IonImageClusteringResult, PreparedIonImages
from .simulate import load_truth, simulate_tissue

__all__ = ["DBSCAN", "HDBSCAN", "Embedder", "IonImageClustering", "IonImageClusteringResult", "UMAP", "ImzMLReader",
           "ImzMLWriter", "IonImageStack", "adjusted_rand_score", "isotope_pairs", "k_distance", "k_distance_knee",
           "knn_recall", "load_truth", "nearest_neighbors", "normalized_mutual_info_score", "pick_peaks", "PreparedIonImages",
           "silhouette_samples", "silhouette_score", "simulate_tissue", "trustworthiness", "UnsafeOutputError", "__version__"]
from .spatial import Section, highly_variable_genes, read_her2st, read_stimage1k4m, read_visium

__all__ += ["Section", "highly_variable_genes", "read_her2st", "read_stimage1k4m", "read_visium"]


def __getattr__(name):
    # ContrastiveTrainer loads LibTorch: imported on first use only.
    if name == "ContrastiveTrainer":
        from .contrastive import ContrastiveTrainer

        return ContrastiveTrainer
    raise AttributeError(f"module 'spatialembed' has no attribute {name!r}")
