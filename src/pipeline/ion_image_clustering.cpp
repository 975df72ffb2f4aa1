#include "spatialembed/pipeline/ion_image_clustering.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <set>
#include <utility>

#include "spatialembed/common/error.hpp"
#include "spatialembed/common/memory.hpp"
#include "spatialembed/common/parallel.hpp"
#include "spatialembed/manifold/fuzzy_simplicial_set.hpp"
#include "spatialembed/metrics/silhouette.hpp"
#include "spatialembed/msi/isotope_coclustering.hpp"
#include "spatialembed/neighbors/k_distance.hpp"

namespace spatialembed {

IonClusteringMethod parse_ion_clustering_method(const std::string& name) {
  if (name == "nn") return IonClusteringMethod::nn;
  if (name == "umap_only") return IonClusteringMethod::umap_only;
  throw InvalidArgument(fmt::format("method must be one of 'nn', 'umap_only'; got '{}'", name));
}

const char* to_string(IonClusteringMethod method) {
  return method == IonClusteringMethod::nn ? "nn" : "umap_only";
}

IonClusterer parse_ion_clusterer(const std::string& name) {
  if (name == "dbscan") return IonClusterer::dbscan;
  if (name == "hdbscan") return IonClusterer::hdbscan;
  throw InvalidArgument(fmt::format("clusterer must be 'dbscan' or 'hdbscan', got '{}'", name));
}

const char* to_string(IonClusterer clusterer) { return clusterer == IonClusterer::dbscan ? "dbscan" : "hdbscan"; }

IonFeatureSet parse_ion_feature_set(const std::string& name) {
  if (name == "cnn") return IonFeatureSet::cnn;
  if (name == "cnn+pixels") return IonFeatureSet::cnn_pixels;
  if (name == "cnn*pixels") return IonFeatureSet::cnn_times_pixels;
  throw InvalidArgument(fmt::format("feature_set must be 'cnn', 'cnn+pixels' or 'cnn*pixels', got '{}'", name));
}

const char* to_string(IonFeatureSet feature_set) {
  switch (feature_set) {
    case IonFeatureSet::cnn: return "cnn";
    case IonFeatureSet::cnn_pixels: return "cnn+pixels";
    case IonFeatureSet::cnn_times_pixels: return "cnn*pixels";
  }
  return "?";
}

PixelKnnMemo::PixelKnnMemo(PixelKnnMemo&& other) noexcept {
  const std::lock_guard<std::mutex> lock(other.mutex_);
  graphs_ = std::move(other.graphs_);
}

PixelKnnMemo& PixelKnnMemo::operator=(const PixelKnnMemo& other) {
  if (this != &other) {
    const std::lock_guard<std::mutex> lock(mutex_);
    graphs_.clear();
  }
  return *this;
}

PixelKnnMemo& PixelKnnMemo::operator=(PixelKnnMemo&& other) noexcept {
  if (this != &other) {
    const std::scoped_lock lock(mutex_, other.mutex_);
    graphs_ = std::move(other.graphs_);
  }
  return *this;
}

KnnGraph PixelKnnMemo::get(const std::string& key, const std::function<KnnGraph()>& compute) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto found = graphs_.find(key);
  if (found != graphs_.end()) return found->second;
  return graphs_[key] = compute();
}

std::size_t PixelKnnMemo::size() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return graphs_.size();
}

UmapOptions IonImageClusteringOptions::default_umap() {
  UmapOptions umap;
  umap.n_components = 3;
  umap.min_dist = 0.0;
  umap.metric = Metric::cosine;  // bench/ion_features/study.py; paper(): euclidean
  return umap;
}

IonImageClusteringOptions IonImageClusteringOptions::paper() {
  IonImageClusteringOptions o;
  o.method = IonClusteringMethod::nn;
  o.preprocess.remove_spikes = false;
  o.preprocess.hotspot_ignore_zeros = false;
  o.feature_set = IonFeatureSet::cnn;
  o.umap = default_umap();
  o.umap.metric = Metric::euclidean;
  o.clusterer = IonClusterer::dbscan;
  o.dbscan = DbscanOptions{};
  o.dbscan.min_samples = 5;
  o.eps_auto = true;
  return o;
}

void IonImageClusteringOptions::validate() const {
  SPATIALEMBED_CHECK(method != IonClusteringMethod::nn || features, InvalidArgument,
                     "method 'nn' needs a features function (e.g. an Embedder's transform); got none");
  SPATIALEMBED_CHECK(num_threads >= 0, InvalidArgument, "num_threads must be >= 0, got {}", num_threads);
  SPATIALEMBED_CHECK(std::isfinite(pixel_weight) && pixel_weight >= 0, InvalidArgument,
                     "pixel_weight must be finite and >= 0, got {}", pixel_weight);
  preprocess.validate();
  umap.validate();
  isotopes.validate();
  if (clusterer == IonClusterer::hdbscan) {
    hdbscan.validate();
    return;
  }
  SPATIALEMBED_CHECK(eps_auto || (std::isfinite(dbscan.eps) && dbscan.eps > 0), InvalidArgument,
                     "eps must be a positive number (or automatic), got {}", dbscan.eps);
  if (!eps_auto) dbscan.validate();
  SPATIALEMBED_CHECK(dbscan.min_samples >= 1, InvalidArgument, "dbscan.min_samples must be >= 1, got {}",
                     dbscan.min_samples);
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void check_finite_measured(const IonImageStack& stack, int num_threads) {
  const std::size_t P = stack.n_pixels();
  parallel_for(stack.n_images(), num_threads, [&](std::size_t k) {
    const float* image = stack.image(k);
    for (std::size_t p = 0; p < P; ++p) {
      SPATIALEMBED_CHECK(!stack.mask[p] || std::isfinite(image[p]), InvalidArgument,
                         "ion image {} (m/z {}) holds {} at pixel (row {}, column {}); intensities must be finite",
                         k, stack.mz[k], image[p], p / stack.width, p % stack.width);
    }
  }, 4);
}

// 1 for each image that is all zero (after preprocessing: empty or constant).
std::vector<std::uint8_t> empty_images(const IonImageStack& stack) {
  std::vector<std::uint8_t> empty(stack.n_images());
  for (std::size_t k = 0; k < stack.n_images(); ++k) {
    const float* image = stack.image(k);
    empty[k] = std::all_of(image, image + stack.n_pixels(), [](float v) { return v == 0.0f; });
  }
  return empty;
}

// Moves the images listed in `kept` (ascending) to the front and drops the others.
void keep_images(IonImageStack& stack, const std::vector<std::size_t>& kept) {
  const std::size_t P = stack.n_pixels();
  for (std::size_t i = 0; i < kept.size(); ++i) {
    if (kept[i] != i) std::copy_n(stack.image(kept[i]), P, stack.image(i));
    stack.mz[i] = stack.mz[kept[i]];
  }
  stack.mz.resize(kept.size());
  // No shrink_to_fit (a second stack at the peak): a run holds only the kept images.
  stack.images.resize(kept.size() * P);
  give_back_unused_capacity(stack.images);
}

// Each image's mean over the measured pixels (before preprocessing).
std::vector<double> measured_means(const IonImageStack& stack, int num_threads) {
  const std::size_t P = stack.n_pixels(), M = stack.n_measured();
  std::vector<double> means(stack.n_images(), 0.0);
  parallel_for(stack.n_images(), num_threads, [&](std::size_t k) {
    const float* image = stack.image(k);
    double sum = 0.0;
    for (std::size_t p = 0; p < P; ++p)
      if (stack.mask[p]) sum += image[p];
    means[k] = M ? sum / static_cast<double>(M) : 0.0;
  }, 4);
  return means;
}

// The measured pixels of each image as one row (n × n_measured), for metrics that unmeasured
// zeros would distort (correlation centres each row).
std::vector<float> measured_pixel_rows(const IonImageStack& stack) {
  const std::size_t P = stack.n_pixels(), M = stack.n_measured();
  std::vector<float> rows(stack.n_images() * M);
  for (std::size_t k = 0; k < stack.n_images(); ++k) {
    float* out = rows.data() + k * M;
    for (std::size_t p = 0; p < P; ++p)
      if (stack.mask[p]) *out++ = stack.image(k)[p];
  }
  return rows;
}

std::vector<float> checked_features(const IonImageClusteringOptions& options, const IonImageStack& stack,
                                    std::size_t& dim) {
  std::vector<float> features = options.features(stack);
  const std::size_t n = stack.n_images();
  SPATIALEMBED_CHECK(!features.empty() && features.size() % n == 0, InvalidArgument,
                     "the features function returned {} values for {} ion images; expected n_images x D", features.size(), n);
  dim = features.size() / n;
  const auto bad = std::find_if(features.begin(), features.end(), [](float v) { return !std::isfinite(v); });
  SPATIALEMBED_CHECK(bad == features.end(), InvalidArgument,
                     "the features of ion image {} (m/z {}) hold a non-finite value ({})",
                     (bad - features.begin()) / static_cast<std::ptrdiff_t>(dim),
                     stack.mz[static_cast<std::size_t>(bad - features.begin()) / dim], *bad);
  return features;
}

// [f / ‖f‖, w · x / ‖x‖] per image: CNN features (n × dim) fused with the measured pixels.
std::vector<float> fuse_with_pixels(const std::vector<float>& features, std::size_t& dim, const IonImageStack& stack,
                                    double pixel_weight, int num_threads) {
  const std::size_t n = stack.n_images(), M = stack.n_measured(), D = dim, P = stack.n_pixels();
  std::vector<float> rows(n * (D + M));
  parallel_for(n, num_threads, [&](std::size_t k) {
    const float* f = features.data() + k * D;
    float* out = rows.data() + k * (D + M);
    double ff = 0.0;
    for (std::size_t j = 0; j < D; ++j) ff += static_cast<double>(f[j]) * f[j];
    const double fs = ff > 0 ? 1.0 / std::sqrt(ff) : 0.0;
    for (std::size_t j = 0; j < D; ++j) out[j] = static_cast<float>(f[j] * fs);
    const float* image = stack.image(k);
    double xx = 0.0;
    for (std::size_t p = 0; p < P; ++p)
      if (stack.mask[p]) xx += static_cast<double>(image[p]) * image[p];
    const double xs = xx > 0 ? pixel_weight / std::sqrt(xx) : 0.0;
    float* px = out + D;
    for (std::size_t p = 0; p < P; ++p)
      if (stack.mask[p]) *px++ = static_cast<float>(image[p] * xs);
  }, 4);
  dim = D + M;
  return rows;
}

// The umap_only input: the preprocessed ion images as rows. Unmeasured pixels are 0 in every
// image, so they change no euclidean, cosine or manhattan distance and the stack's memory
// serves as the matrix without a copy; correlation centres each row, so it gets the measured
// pixels only (in `storage`).
ConstMatrixF pixel_matrix(const IonImageStack& stack, Metric metric, std::vector<float>& storage) {
  if (metric != Metric::correlation) return ConstMatrixF(stack.images.data(), stack.n_images(), stack.n_pixels());
  storage = measured_pixel_rows(stack);
  return ConstMatrixF(storage.data(), stack.n_images(), stack.n_measured());
}

// The kNN graph UMAP would search over the pixel rows P, from the prepared stack's memo when an
// earlier fit searched the same way (NN-descent depends on the seed, the exact search not).
KnnGraph pixel_neighbors(const PreparedIonImages& prepared, ConstMatrixF P, const UmapOptions& options) {
  const bool exact = options.knn_method == KnnMethod::exact;
  const std::string key = fmt::format("{} {} k={} seed={}", to_string(options.metric), to_string(options.knn_method),
                                      options.n_neighbors, exact ? 0 : options.seed);
  return prepared.pixel_knn.get(key, [&] { return umap_neighbors(P, options); });
}

ProgressCallback stage_progress(const StageProgressCallback& progress, const char* stage) {
  if (!progress) return {};
  return [progress, stage](std::size_t done, std::size_t total) { return progress(stage, done, total); };
}

void report_stage(const StageProgressCallback& progress, const char* stage, std::size_t done, std::size_t total) {
  if (progress && !progress(stage, done, total)) throw Cancelled(fmt::format("cancelled during stage '{}'", stage));
}

// Per cluster, its image indices (into the original stack) by increasing m/z, and the mean
// of its preprocessed images.
void summarise_clusters(const IonImageStack& kept_stack, const std::vector<std::size_t>& kept,
                        const std::vector<std::int32_t>& kept_labels, std::int32_t n_clusters,
                        IonImageClusteringResult& result) {
  const std::size_t P = kept_stack.n_pixels();
  result.members.assign(static_cast<std::size_t>(n_clusters), {});
  result.cluster_mean_images.assign(static_cast<std::size_t>(n_clusters) * P, 0.0f);
  for (std::size_t i = 0; i < kept.size(); ++i) {
    if (kept_labels[i] < 0) continue;
    const auto c = static_cast<std::size_t>(kept_labels[i]);
    result.members[c].push_back(kept[i]);
    float* mean = result.cluster_mean_images.data() + c * P;
    const float* image = kept_stack.image(i);
    for (std::size_t p = 0; p < P; ++p) mean[p] += image[p];
  }
  for (std::size_t c = 0; c < result.members.size(); ++c) {
    auto& members = result.members[c];
    const float scale = 1.0f / static_cast<float>(members.size());
    float* mean = result.cluster_mean_images.data() + c * P;
    for (std::size_t p = 0; p < P; ++p) mean[p] *= scale;
    std::stable_sort(members.begin(), members.end(),
                     [&](std::size_t a, std::size_t b) { return result.mz[a] < result.mz[b]; });
  }
}

// Mean silhouette of the clustered images in the UMAP space (noise left out); NaN unless
// there are 2 ≤ clusters ≤ clustered images − 1, where it is defined.
double clustered_silhouette(const UmapEmbedding& umap, const std::vector<std::int32_t>& labels, int num_threads) {
  const std::size_t C = umap.n_components;
  std::vector<float> points;
  std::vector<std::int64_t> clustered;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) continue;
    points.insert(points.end(), umap.embedding.begin() + i * C, umap.embedding.begin() + (i + 1) * C);
    clustered.push_back(labels[i]);
  }
  const std::size_t n_labels = std::set<std::int64_t>(clustered.begin(), clustered.end()).size();
  if (n_labels < 2 || n_labels >= clustered.size()) return std::numeric_limits<double>::quiet_NaN();
  SilhouetteOptions options;
  options.num_threads = num_threads;
  return silhouette_score(ConstMatrixF(points.data(), clustered.size(), C), clustered, options);
}

IonClusteringEvaluation evaluate(const IonImageClusteringResult& result, std::size_t n_kept, const UmapEmbedding& umap,
                                 const std::vector<std::int32_t>& kept_labels, const IonImageClusteringOptions& o) {
  IonClusteringEvaluation e;
  e.n_clusters = result.n_clusters();
  std::size_t noise = 0;
  for (std::size_t k = 0; k < result.labels.size(); ++k) noise += !result.empty[k] && result.labels[k] < 0;
  e.noise_fraction = static_cast<double>(noise) / static_cast<double>(n_kept);
  e.silhouette = clustered_silhouette(umap, kept_labels, o.num_threads);
  const auto iso = isotope_coclustering(result.mz, result.labels, o.isotopes);
  e.isotope_pairs = iso.pairs.size();
  e.isotope_pairs_clustered = iso.n_clustered;
  e.isotope_pairs_together = iso.n_together;
  e.isotope_coclustering = iso.share();
  e.isotope_pair_list = iso.pairs;
  e.isotope_options = o.isotopes;
  return e;
}

void check_prepared(const PreparedIonImages& prepared, const IonImageClusteringOptions& o) {
  const std::size_t n = prepared.n_kept(), N = prepared.n_images();
  prepared.stack.validate();
  SPATIALEMBED_CHECK(n > 0 && prepared.stack.n_images() == n && prepared.empty.size() == N && prepared.kept.back() < N,
                     InvalidArgument, "the prepared ion images are inconsistent: {} kept of {} ({} in the stack)", n, N,
                     prepared.stack.n_images());
  SPATIALEMBED_CHECK(same_preprocessing(prepared.preprocess, o.preprocess), InvalidArgument,
                     "the ion images were prepared with {}; this pipeline preprocesses with {}: prepare them with "
                     "its options",
                     prepared.preprocess.describe(), o.preprocess.describe());
  // UMAP needs 2 <= n_neighbors < n: at least 3 non-empty images whatever n_neighbors is.
  SPATIALEMBED_CHECK(n >= 3, InvalidArgument,
                     "{} non-empty ion image{} ({} of {} are empty) {} too few for UMAP with n_neighbors = {}: at least "
                     "3 non-empty ion images are needed (UMAP's n_neighbors must be at least 2 and below the number "
                     "of images); give more ion images",
                     n, n == 1 ? "" : "s", N - n, N, n == 1 ? "is" : "are", o.umap.n_neighbors);
  SPATIALEMBED_CHECK(o.umap.n_neighbors < n, InvalidArgument,
                     "{} non-empty ion images ({} of {} are empty) are too few for UMAP with n_neighbors = {}: set "
                     "n_neighbors to at most {} (it must be at least 2), or give at least {} non-empty ion images",
                     n, N - n, N, o.umap.n_neighbors, n - 1, o.umap.n_neighbors + 1);
}

// Labels of the kept images from the chosen clusterer.
struct Clusters {
  std::vector<std::int32_t> labels;
  std::int32_t n_clusters = 0;
};

// DBSCAN in the UMAP space, eps from the knee of the k-distance curve unless given; records
// the curve and the eps used in `result`.
Clusters run_dbscan(ConstMatrixF Y, const IonImageClusteringOptions& o, IonImageClusteringResult& result) {
  KDistanceOptions kd;
  kd.k = static_cast<std::size_t>(std::min<std::int64_t>(o.dbscan.min_samples, static_cast<std::int64_t>(Y.rows)));
  kd.num_threads = o.num_threads;
  result.k_distances = k_distance(Y, kd);
  DbscanOptions dbscan_options = o.dbscan;
  dbscan_options.num_threads = o.num_threads;
  dbscan_options.metric = Metric::euclidean;
  dbscan_options.progress = stage_progress(o.progress, "dbscan");
  result.eps_auto = o.eps_auto;
  if (o.eps_auto) dbscan_options.eps = k_distance_knee(result.k_distances);
  result.eps = dbscan_options.eps;
  auto r = DBSCAN(dbscan_options).fit(Y);
  return {std::move(r.labels), r.n_clusters};
}

// HDBSCAN in the UMAP space; keeps the condensed tree and the probabilities (of the kept
// images; scattered to the input's indexing later).
Clusters run_hdbscan(ConstMatrixF Y, const IonImageClusteringOptions& o, IonImageClusteringResult& result,
                     std::vector<double>& probabilities) {
  HdbscanOptions options = o.hdbscan;
  options.num_threads = o.num_threads;
  options.metric = Metric::euclidean;
  options.progress = stage_progress(o.progress, "hdbscan");
  const auto min_samples = options.effective_min_samples();
  SPATIALEMBED_CHECK(static_cast<std::int64_t>(Y.rows) >= min_samples, InvalidArgument,
                     "{} non-empty ion images are too few for HDBSCAN with min_samples = {}: give more ion images or "
                     "a smaller hdbscan.min_samples (or min_cluster_size)", Y.rows, min_samples);
  auto r = HDBSCAN(options).fit(Y);
  result.condensed_tree = std::move(r.condensed_tree);
  result.cluster_nodes = std::move(r.cluster_nodes);
  probabilities = std::move(r.probabilities);
  return {std::move(r.labels), r.n_clusters};
}

// Rows of the kept images (labels, coordinates, features) back to the input's indexing;
// left-out images keep −1, NaN coordinates and zero features.
void scatter_to_input(const std::vector<std::size_t>& kept, const Clusters& clusters, const UmapEmbedding& umap,
                      ConstMatrixF features, const std::vector<double>& probabilities, IonImageClusteringResult& result) {
  const std::size_t N = result.mz.size(), C = umap.n_components, D = features.cols;
  result.labels.assign(N, -1);
  if (!probabilities.empty()) {
    result.probabilities.assign(N, 0.0);
    for (std::size_t i = 0; i < kept.size(); ++i) result.probabilities[kept[i]] = probabilities[i];
  }
  result.embedding.assign(N * C, std::numeric_limits<float>::quiet_NaN());
  result.n_features = D;
  result.features.assign(features.empty() ? 0 : N * D, 0.0f);
  for (std::size_t i = 0; i < kept.size(); ++i) {
    result.labels[kept[i]] = clusters.labels[i];
    std::copy_n(umap.embedding.data() + i * C, C, result.embedding.data() + kept[i] * C);
    if (!features.empty()) std::copy_n(features.row(i), D, result.features.data() + kept[i] * D);
  }
}

}  // namespace

IonImageClustering::IonImageClustering(IonImageClusteringOptions options) : options_(std::move(options)) {
  options_.validate();
}

PreparedIonImages IonImageClustering::prepare(IonImageStack stack) const {
  const auto& o = options_;
  const auto start = Clock::now();
  stack.validate();
  SPATIALEMBED_CHECK(stack.n_images() > 0, InvalidArgument, "the ion-image stack holds no image");
  SPATIALEMBED_CHECK(stack.n_measured() > 0, InvalidArgument, "the ion-image stack has no measured pixel (mask all 0)");
  report_stage(o.progress, "preprocess", 0, 1);
  check_finite_measured(stack, o.num_threads);
  PreparedIonImages prepared;
  prepared.mz = stack.mz;
  prepared.mean_intensity = measured_means(stack, o.num_threads);
  prepared.preprocess = o.preprocess;
  PreprocessOptions preprocess_options = o.preprocess;
  preprocess_options.num_threads = o.num_threads;
  preprocess(stack, preprocess_options);
  prepared.empty = empty_images(stack);
  for (std::size_t k = 0; k < stack.n_images(); ++k)
    if (!prepared.empty[k]) prepared.kept.push_back(k);
  SPATIALEMBED_CHECK(!prepared.kept.empty(), InvalidArgument,
                     "all {} ion images are empty (all zero or constant over the measured pixels): nothing to cluster",
                     stack.n_images());
  keep_images(stack, prepared.kept);
  prepared.stack = std::move(stack);
  prepared.seconds = seconds_since(start);
  report_stage(o.progress, "preprocess", 1, 1);
  return prepared;
}

IonImageClusteringResult IonImageClustering::fit(IonImageStack stack) const {
  return fit_prepared(prepare(std::move(stack)));
}

IonImageClusteringResult IonImageClustering::fit_prepared(const PreparedIonImages& prepared) const {
  const auto& o = options_;
  const auto start = Clock::now();
  check_prepared(prepared, o);
  const IonImageStack& stack = prepared.stack;
  const std::size_t n = prepared.n_kept();
  IonImageClusteringResult result;
  result.method = o.method;
  result.clusterer = o.clusterer;
  result.mz = prepared.mz;
  result.empty = prepared.empty;
  result.height = stack.height;
  result.width = stack.width;
  result.mask = stack.mask;
  result.timings["preprocess"] = prepared.seconds;

  // The rows UMAP sees: CNN features (nn) or the ion images themselves (umap_only).
  auto t = Clock::now();
  std::vector<float> rows, pixel_storage;
  ConstMatrixF X;
  if (o.method == IonClusteringMethod::nn) {
    report_stage(o.progress, "embed", 0, n);
    std::size_t dim = 0;
    rows = checked_features(o, stack, dim);
    if (o.feature_set == IonFeatureSet::cnn_pixels) rows = fuse_with_pixels(rows, dim, stack, o.pixel_weight, o.num_threads);
    X = ConstMatrixF(rows.data(), n, dim);
    result.timings["embed"] = seconds_since(t);
    report_stage(o.progress, "embed", n, n);
  } else {
    X = pixel_matrix(stack, o.umap.metric, pixel_storage);
  }

  t = Clock::now();
  UmapOptions umap_options = o.umap;
  umap_options.seed = o.seed;
  umap_options.num_threads = o.num_threads;
  umap_options.progress = stage_progress(o.progress, "umap");
  UmapOptions pixel_options = umap_options;
  if (pixel_options.knn_method == KnnMethod::automatic && n <= kUmapOnlyExactKnnMax)
    pixel_options.knn_method = KnnMethod::exact;
  UmapEmbedding umap;
  if (o.method == IonClusteringMethod::umap_only) {
    umap = umap_fit(pixel_neighbors(prepared, X, pixel_options), pixel_options, X);
  } else if (o.feature_set == IonFeatureSet::cnn_times_pixels) {
    const ConstMatrixF P = pixel_matrix(stack, o.umap.metric, pixel_storage);
    const double mix_weight = o.pixel_weight / (1.0 + o.pixel_weight);
    CsrMatrix graph = fuzzy_set_intersection(umap_graph(umap_neighbors(X, umap_options), umap_options),
                                             umap_graph(pixel_neighbors(prepared, P, pixel_options), pixel_options),
                                             mix_weight, static_cast<double>(umap_options.n_neighbors));
    umap = umap_fit(std::move(graph), umap_options, X);
  } else {
    umap = umap_fit(X, umap_options);
  }
  result.n_components = umap.n_components;
  result.n_neighbors = umap_options.n_neighbors;
  result.timings["umap"] = seconds_since(t);

  t = Clock::now();
  const ConstMatrixF Y(umap.embedding.data(), n, umap.n_components);
  std::vector<double> probabilities;
  const Clusters clusters = o.clusterer == IonClusterer::hdbscan ? run_hdbscan(Y, o, result, probabilities)
                                                                 : run_dbscan(Y, o, result);
  result.timings[to_string(o.clusterer)] = seconds_since(t);

  t = Clock::now();
  scatter_to_input(prepared.kept, clusters, umap, o.method == IonClusteringMethod::nn ? X : ConstMatrixF(),
                   probabilities, result);
  summarise_clusters(stack, prepared.kept, clusters.labels, clusters.n_clusters, result);
  result.evaluation = evaluate(result, n, umap, clusters.labels, o);
  result.timings["evaluate"] = seconds_since(t);
  result.timings["total"] = prepared.seconds + seconds_since(start);
  return result;
}

}  // namespace spatialembed
