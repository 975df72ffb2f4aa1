"""The result of one ion-image clustering run (`IonImageClustering`), as NumPy arrays."""
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np


@dataclass
class IonImageClusteringResult:
    """What one run of :class:`spatialembed.IonImageClustering` found.

    Attributes
    ----------
    method : {"nn", "umap_only"}
        The pipeline that produced it.
    mz : ndarray of shape (n_images,), float64
        m/z of each ion image, in the input's order.
    labels : ndarray of shape (n_images,), int64
        Cluster of each ion image, ``0 … n_clusters − 1``; −1 = noise (DBSCAN) or an empty
        (all-zero) image, which is not clustered.
    empty : ndarray of shape (n_images,), bool
        Ion images that were all zero over the measured pixels (left out of every stage).
    embedding : ndarray of shape (n_images, n_components), float32
        UMAP coordinates (3-D by default); NaN rows for empty images.
    features : ndarray of shape (n_images, n_features), float32, or None
        The CNN features of each ion image (``method="nn"``, 2048-d for the ImageNet
        backbones; zero rows for empty images); None for ``umap_only``.
    mask : ndarray of shape (height, width), bool
        Measured pixels.
    cluster_mean_images : ndarray of shape (n_clusters, height, width), float32
        Mean of each cluster's preprocessed member images (values in [0, 1]; 0 outside the mask).
    members : list of ndarray of int64
        ``members[c]``: indices (into ``mz``) of the ion images of cluster c, by increasing m/z.
    params : dict
        Every option the run used, with ``eps`` the value actually used and ``eps_auto`` True
        when it was chosen from the k-distance curve.
    timings : dict of str to float
        Seconds per stage: "preprocess", "embed" (nn only), "umap", "dbscan" or "hdbscan", "total".
    evaluation : dict
        ``n_clusters``; ``noise_fraction`` (share of the non-empty images labelled −1);
        ``silhouette`` (in the embedding, over clustered images; NaN with fewer than 2
        clusters); ``isotope_pairs`` (pairs of ion images 1.00336 Da apart);
        ``isotope_pairs_clustered`` (pairs whose both images are clustered),
        ``isotope_pairs_together`` (of those, pairs in one cluster) and
        ``isotope_coclustering`` (share of those in one cluster; NaN when there are none);
        the pairs themselves: ``isotope_pair_index`` (n_pairs, 2) int64 (lighter, heavier ion
        image), ``isotope_pair_mz`` (n_pairs, 2) float64, ``isotope_pair_charge`` (n_pairs,)
        int64 (the z matched), ``isotope_pair_error`` (n_pairs,) float64 (spacing error, Da),
        found with ``isotope_tolerance`` in ``isotope_unit`` ("ppm" or "da"), charges
        1 … ``isotope_max_charge`` and ``isotope_spacing`` (Da) — reports show these pairs;
        ``k_distances`` (the ascending k-distance curve in the embedding, k = min_samples, from
        which an automatic eps is chosen; DBSCAN only).
    clusterer : {"dbscan", "hdbscan"}
        The clustering of the embedding.
    probabilities : ndarray of shape (n_images,), float64, or None
        HDBSCAN membership strength of each ion image (0 for noise and empty images); None
        for DBSCAN.
    condensed_tree : numpy structured array (parent, child, lambda_val, child_size), or None
        HDBSCAN's condensed tree (see :attr:`HDBSCAN.condensed_tree_`) over the non-empty
        images: point nodes ``0 … n_kept − 1`` are the non-empty images in input order
        (``np.flatnonzero(~empty)``), cluster nodes start at ``n_kept`` (the root). None for DBSCAN.
    cluster_nodes : ndarray of int64, or None
        HDBSCAN: the condensed-tree node of each cluster label.
    """

    method: str
    mz: np.ndarray
    labels: np.ndarray
    empty: np.ndarray
    embedding: np.ndarray
    features: Optional[np.ndarray]
    mask: np.ndarray
    cluster_mean_images: np.ndarray
    members: List[np.ndarray]
    params: Dict = field(default_factory=dict)
    timings: Dict[str, float] = field(default_factory=dict)
    evaluation: Dict = field(default_factory=dict)
    clusterer: str = "dbscan"
    probabilities: Optional[np.ndarray] = None
    condensed_tree: Optional[np.ndarray] = None
    cluster_nodes: Optional[np.ndarray] = None

    @property
    def n_clusters(self):
        """Number of clusters (labels ≥ 0)."""
        return len(self.members)
