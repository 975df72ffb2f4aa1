#pragma once
/// @file
/// `IonImageClustering`: groups the ion images of one MSI section by shared spatial
/// structure (Zhang, Claesen, Moerman, Groseclose, Waelkens, De Moor & Verbeeck, Anal Bioanal
/// Chem 413:2803, 2021). Two pipelines, composed only from public components:
///
/// - **nn**: preprocess → CNN features of each ion image (`Embedder`, e.g. ImageNet
///   ResNet-50 or Xception, 2048-d) → UMAP to 3-D → DBSCAN;
/// - **umap_only** (the paper's baseline): preprocess → the raw ion-image vectors (measured
///   pixels) → UMAP to 3-D → DBSCAN.
///
/// Either pipeline can end in HDBSCAN (the default) or DBSCAN (the paper) (`clusterer`). The
/// defaults (HDBSCAN; nn: the UMAP graphs of the CNN features and of the pixels intersected,
/// `feature_set` cnn*pixels with `pixel_weight` 0.5; the features function an `Embedder` with
/// its default global average pooling) were chosen by
/// bench/ion_features/study.py (docs/results.md); `IonImageClusteringOptions::paper()` is the
/// published configuration.
///
/// The header needs no LibTorch: the nn method takes its features from a function, e.g.
/// ```cpp
/// spatialembed::Embedder embedder;                       // spatialembed::nn
/// spatialembed::IonImageClusteringOptions options;
/// options.features = [&](const spatialembed::IonImageStack& s) { return embedder.transform(s); };
/// auto result = spatialembed::IonImageClustering(options).fit(stack);
/// ```

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "spatialembed/cluster/dbscan.hpp"
#include "spatialembed/cluster/hdbscan.hpp"
#include "spatialembed/manifold/umap.hpp"
#include "spatialembed/msi/ion_image_stack.hpp"
#include "spatialembed/msi/preprocessing.hpp"
#include "spatialembed/msi/spectra.hpp"

namespace spatialembed {

/// Which pipeline `IonImageClustering` runs.
enum class IonClusteringMethod {
  nn,         ///< CNN features → UMAP → DBSCAN (the method of Zhang et al. 2021)
  umap_only,  ///< raw ion-image vectors → UMAP → DBSCAN (their baseline)
};
/// Parses "nn" or "umap_only"; throws InvalidArgument otherwise.
IonClusteringMethod parse_ion_clustering_method(const std::string& name);
/// The name `parse_ion_clustering_method` accepts.
const char* to_string(IonClusteringMethod method);

/// Which clustering ends the pipeline, in the UMAP space.
enum class IonClusterer {
  dbscan,   ///< DBSCAN, eps from the k-distance knee unless given (the paper)
  hdbscan,  ///< HDBSCAN: no eps; the condensed tree is kept in the result
};
/// Parses "dbscan" or "hdbscan"; throws InvalidArgument otherwise.
IonClusterer parse_ion_clusterer(const std::string& name);
/// The name `parse_ion_clusterer` accepts.
const char* to_string(IonClusterer clusterer);

/// What UMAP sees in the nn method.
enum class IonFeatureSet {
  cnn,         ///< the features function's rows (the paper)
  /// "cnn+pixels": per image [f / ‖f‖₂, pixel_weight · x / ‖x‖₂], the CNN features f fused with
  /// the preprocessed measured pixels x (the umap_only input), each part L2-normalised:
  /// D + n_measured columns. Texture from the CNN, where and how much from the pixels.
  cnn_pixels,
  /// "cnn*pixels": two views, one graph. UMAP's fuzzy kNN graph of the CNN features and the
  /// one of the preprocessed measured pixels (the umap_only input, same UMAP options) are
  /// intersected (`fuzzy_set_intersection`, umap-learn's `UMAP.__mul__`; mix_weight
  /// pixel_weight / (1 + pixel_weight): memberships μ_cnn·μ_pixels at pixel_weight 1) and that
  /// graph is laid out: two ion images are neighbours only where both views agree.
  cnn_times_pixels,
};
/// Parses "cnn", "cnn+pixels" or "cnn*pixels"; throws InvalidArgument otherwise.
IonFeatureSet parse_ion_feature_set(const std::string& name);
/// The name `parse_ion_feature_set` accepts.
const char* to_string(IonFeatureSet feature_set);

/// Preprocessed ion images (`n × height × width`, values in [0, 1], 0 outside the mask) →
/// one feature row each: `n × D` float32, row-major. An `Embedder`'s `transform` fits (give the
/// Embedder `preprocess.remove_spikes = false` and `hotspot_quantile = 1`: the images arrive
/// already clipped and scaled).
using IonImageFeatureFn = std::function<std::vector<float>(const IonImageStack& images)>;

/// Stage-level progress: (stage name, done, total) — stages "preprocess", "embed", "umap"
/// (per epoch), "dbscan" or "hdbscan" (per phase). Returning false stops the run with `Cancelled`.
using StageProgressCallback = std::function<bool(const std::string& stage, std::size_t done, std::size_t total)>;

/// Options of `IonImageClustering`; `validate()` checks them all.
struct IonImageClusteringOptions {
  IonClusteringMethod method = IonClusteringMethod::nn;  ///< nn or umap_only
  /// Per-image preprocessing before either method: single-pixel spikes removed, hotspot clip at
  /// the 0.99 quantile of the non-zero measured pixels, min–max scaling to [0, 1] (TIC
  /// normalisation and a median filter optional). `paper()`: no spike removal, the quantile
  /// over all measured pixels.
  PreprocessOptions preprocess{};
  /// The features of the nn method (required for it, ignored by umap_only).
  IonImageFeatureFn features;
  /// The nn method's UMAP input: cnn*pixels (default, chosen by bench/ion_features/study.py,
  /// docs/results.md), cnn+pixels, or cnn (the paper, `paper()`); ignored by umap_only.
  IonFeatureSet feature_set = IonFeatureSet::cnn_times_pixels;
  /// Weight of the pixels against the CNN features (1): of the L2-normalised pixel part against
  /// the L2-normalised CNN part for cnn+pixels, the exponent ratio of the graph intersection for
  /// cnn*pixels (0.5: memberships μ_cnn·√μ_pixels); finite, ≥ 0 (0 = CNN features only). The
  /// default 0.5 was chosen with cnn*pixels (bench/ion_features/study.py: above 1 at every
  /// noise level).
  double pixel_weight = 0.5;
  /// UMAP of the features (nn) or ion-image vectors (umap_only); `default_umap()` unless
  /// set. Its seed and num_threads are replaced by the ones below.
  UmapOptions umap = default_umap();
  /// The clustering of the UMAP coordinates: hdbscan (default, chosen by
  /// bench/ion_features/study.py; no eps) or dbscan (the paper, `paper()`).
  IonClusterer clusterer = IonClusterer::hdbscan;
  /// DBSCAN in the UMAP space (clusterer dbscan); eps is used only when `eps_auto` is false.
  /// Its num_threads is replaced by the one below.
  DbscanOptions dbscan{};
  /// HDBSCAN in the UMAP space (clusterer hdbscan); scikit-learn's defaults
  /// (min_cluster_size 5). Its metric is euclidean and its num_threads the one below.
  HdbscanOptions hdbscan{};
  /// Choose eps as the knee of the k-distance curve (k = dbscan.min_samples) of the UMAP
  /// coordinates (`k_distance_knee`); the value used is reported in the result.
  bool eps_auto = true;
  /// Isotope pairs (Δm/z 1.00336) for the isotope co-clustering score.
  IsotopePairOptions isotopes{};
  std::uint64_t seed = 0;  ///< seed of every random choice (UMAP); same seed ⇒ same result
  int num_threads = 0;     ///< threads for every stage; 0 = all cores; results do not depend on it
  StageProgressCallback progress;  ///< optional

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
  /// umap-learn's defaults but n_components = 3 (as the paper), min_dist = 0 (tight
  /// clusters, as umap-learn's documentation advises when clustering the embedding) and metric
  /// cosine (chosen by bench/ion_features/study.py; the paper's euclidean in `paper()`).
  static UmapOptions default_umap();
  /// The faithful configuration of Zhang et al. 2021: method nn, feature_set cnn, UMAP 3-D
  /// (min_dist 0) on euclidean distances, DBSCAN with min_samples 5 and eps at the k-distance
  /// knee. Give it the features of an `Embedder` with pooling avg (the Embedder's default).
  static IonImageClusteringOptions paper();
};

/// How good a clustering looks without ground truth.
struct IonClusteringEvaluation {
  std::size_t n_clusters = 0;           ///< clusters found
  double noise_fraction = 0;            ///< share of the non-empty images labelled −1
  double silhouette = 0;                ///< mean silhouette in the UMAP space over clustered images; NaN with < 2 clusters
  std::size_t isotope_pairs = 0;        ///< isotope pairs among all ion images' m/z
  std::size_t isotope_pairs_clustered = 0;  ///< pairs whose two images both have a cluster
  std::size_t isotope_pairs_together = 0;   ///< of those, pairs whose two images share a cluster
  double isotope_coclustering = 0;      ///< share of those in one cluster; NaN when there are none
  /// The isotope pairs themselves (`find_isotope_pairs` on the result's `mz`): `light`, `heavy`
  /// index the ion images, `charge` is the z matched, `error` the spacing error in Da; ordered by
  /// (light, heavy); `isotope_pair_list.size() == isotope_pairs`. Reports show these, never
  /// search again.
  std::vector<IsotopePair> isotope_pair_list;
  /// The options the pairs were found with: the run's `isotopes` (tolerance and its unit,
  /// max_charge, spacing).
  IsotopePairOptions isotope_options{};
};

/// What one run found. Images are indexed as in the input stack.
struct IonImageClusteringResult {
  IonClusteringMethod method = IonClusteringMethod::nn;
  IonClusterer clusterer = IonClusterer::dbscan;  ///< the clustering that ran
  std::vector<double> mz;                ///< n_images m/z
  std::vector<std::int32_t> labels;      ///< n_images clusters 0..n_clusters−1; −1 = noise or empty image
  std::vector<std::uint8_t> empty;       ///< n_images flags: 1 = all zero after preprocessing (not clustered)
  std::vector<float> embedding;          ///< n_images × n_components, row-major; NaN rows for empty images
  std::size_t n_components = 0;
  std::vector<float> features;           ///< nn: n_images × n_features (UMAP's input: the fused rows for cnn+pixels), row-major, 0 rows for empty images; umap_only: empty
  std::size_t n_features = 0;
  std::size_t height = 0, width = 0;     ///< image size, pixels
  std::vector<std::uint8_t> mask;        ///< height × width, 1 = measured
  std::vector<float> cluster_mean_images;  ///< n_clusters × height × width: mean of each cluster's preprocessed images
  std::vector<std::vector<std::size_t>> members;  ///< per cluster, its image indices by increasing m/z
  double eps = 0;                        ///< DBSCAN eps used (0 for HDBSCAN)
  bool eps_auto = false;                 ///< eps was the k-distance knee
  std::vector<double> k_distances;       ///< DBSCAN: the ascending k-distance curve (k = min_samples) in the UMAP space
  /// HDBSCAN: n_images membership strengths in [0, 1] (0 for noise and empty images); empty for DBSCAN.
  std::vector<double> probabilities;
  /// HDBSCAN: the condensed tree over the non-empty images — point nodes 0..n_kept−1 are the
  /// non-empty images in input order (`empty` flags the others), cluster nodes start at
  /// n_kept (the root); `cluster_nodes[c]` is the node of cluster c. Empty for DBSCAN.
  CondensedTree condensed_tree;
  std::vector<std::int64_t> cluster_nodes;
  std::size_t n_neighbors = 0;           ///< UMAP n_neighbors used
  std::map<std::string, double> timings; ///< seconds: "preprocess", "embed" (nn), "umap", "dbscan" or "hdbscan", "evaluate", "total"
  IonClusteringEvaluation evaluation;
  std::size_t n_clusters() const { return members.size(); }
};

/// kNN graphs of a prepared stack's pixel rows, kept by the first `fit_prepared` that needs one
/// (method umap_only, or nn with feature_set cnn*pixels) for the next with the same search
/// (metric, knn_method, n_neighbors, seed): at scale that search, an exact kNN over every pixel of every
/// image, is the costliest step after the CNN, and `cluster-ions --method both` needs it for
/// both methods. Thread-safe; a copy starts empty (its images may then be changed).
class PixelKnnMemo {
 public:
  PixelKnnMemo() = default;
  PixelKnnMemo(const PixelKnnMemo&) {}
  PixelKnnMemo(PixelKnnMemo&& other) noexcept;
  PixelKnnMemo& operator=(const PixelKnnMemo& other);
  PixelKnnMemo& operator=(PixelKnnMemo&& other) noexcept;

  /// The graph stored under `key`, else `compute()`'s, stored for later calls.
  KnnGraph get(const std::string& key, const std::function<KnnGraph()>& compute) const;
  /// Graphs held.
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  mutable std::map<std::string, KnnGraph> graphs_;
};

/// Ion images made ready for `IonImageClustering::fit_prepared`: preprocessed (in place of
/// the input's memory) with the images that came out all zero left out. One prepared stack
/// serves any number of runs (both methods, other UMAP or DBSCAN settings) without another
/// copy of the images; `fit_prepared` only reads it.
struct PreparedIonImages {
  /// The non-empty images, preprocessed, in input order: n_kept × height × width float32,
  /// row-major, with the input's mask and pixel geometry; `stack.mz` = their m/z.
  IonImageStack stack;
  std::vector<std::size_t> kept;       ///< n_kept: input index of each image in `stack`, ascending
  std::vector<double> mz;              ///< n_images m/z of every input image
  std::vector<std::uint8_t> empty;     ///< n_images flags: 1 = all zero after preprocessing (left out)
  /// n_images: each input image's mean intensity over the measured pixels before
  /// preprocessing (reports draw ions at it when there is no mean spectrum).
  std::vector<double> mean_intensity;
  PreprocessOptions preprocess{};      ///< the preprocessing applied (num_threads aside)
  double seconds = 0;                  ///< wall time of the preparation (check, preprocess, compaction)
  /// Pixel kNN graphs of earlier fits; valid while `stack` is unchanged, as `fit_prepared`
  /// leaves it (change the images of a prepared stack and the graphs are stale).
  PixelKnnMemo pixel_knn;

  std::size_t n_images() const { return mz.size(); }
  std::size_t n_kept() const { return kept.size(); }
  std::size_t height() const { return stack.height; }
  std::size_t width() const { return stack.width; }
};

/// The ion-image clustering pipelines. Thread-compatible: one `fit` at a time per object.
class IonImageClustering {
 public:
  /// Throws InvalidArgument for invalid options (also: method nn without `features`).
  explicit IonImageClustering(IonImageClusteringOptions options = {});
  const IonImageClusteringOptions& options() const { return options_; }

  /// Runs the pipeline on `stack` (taken by value: pass `std::move(stack)` to let the run
  /// preprocess it in place instead of copying a large stack). Images that are all zero
  /// after preprocessing (empty, or constant) are left out and labelled −1.
  /// Throws InvalidArgument for an invalid stack, NaN/inf in a measured pixel, no non-empty
  /// image, or fewer non-empty images than UMAP's n_neighbors needs (n_neighbors < n);
  /// FormatError/InvalidArgument when the features function returns the wrong size or
  /// non-finite values; Cancelled when progress asks to stop.
  IonImageClusteringResult fit(IonImageStack stack) const;

  /// The first half of `fit`: checks the stack (finite measured pixels), preprocesses it in
  /// place with `options().preprocess`, records the empty images and compacts the others to
  /// the front of the same buffer (no second copy of the images: peak memory is the stack plus
  /// O(n_images + height·width)). Reports stage "preprocess". Throws InvalidArgument for an
  /// invalid stack, NaN/inf in a measured pixel or no non-empty image; Cancelled.
  PreparedIonImages prepare(IonImageStack stack) const;

  /// The second half of `fit`, on images `prepare` made (by this or another pipeline with the
  /// same preprocessing options): features (nn) or the images' own memory as the n_kept ×
  /// (height·width) matrix (umap_only, euclidean/cosine/manhattan; correlation copies the
  /// measured pixels) → UMAP → DBSCAN → summaries. The pixels' kNN graph is kept in
  /// `prepared.pixel_knn` for later fits with the same search. `timings["preprocess"]` is the prepared
  /// stack's `seconds`. Throws InvalidArgument when the prepared stack was preprocessed with
  /// other options, or holds fewer non-empty images than n_neighbors needs; else as `fit`.
  IonImageClusteringResult fit_prepared(const PreparedIonImages& prepared) const;

  /// n at or below which method umap_only searches neighbours exactly (blocked GEMM) when
  /// `umap.knn_method` is automatic: over raw ion images (d = pixels, often 10⁵–10⁶) the exact
  /// search costs ~n²·d flops in cache-friendly GEMM, while NN-descent's ~n·k²·iterations
  /// scattered distance evaluations each read two full images from memory, so exact wins far
  /// beyond UMAP's own 4,096 switch. The nn method keeps UMAP's rule (2048-d features).
  /// (feature_set cnn*pixels: its pixel view follows umap_only, its CNN view UMAP's rule.)
  static constexpr std::size_t kUmapOnlyExactKnnMax = 20000;

 private:
  IonImageClusteringOptions options_;
};

}  // namespace spatialembed
