#include "spatialembed/manifold/umap.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "manifold/layout.hpp"
#include "manifold/pca.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/random.hpp"
#include "spatialembed/manifold/fuzzy_simplicial_set.hpp"
#include "spatialembed/manifold/spectral_init.hpp"
#include "spatialembed/neighbors/exact_knn.hpp"
#include "spatialembed/neighbors/nn_descent.hpp"

namespace spatialembed {

namespace {

constexpr std::size_t kExactKnnBelow = 4096;   // umap-learn's switch to NN-descent
constexpr std::size_t kSmallDataEpochs = 500;  // n ≤ 10,000
constexpr std::size_t kLargeDataEpochs = 200;
constexpr std::size_t kSmallData = 10000;

std::size_t default_epochs(std::size_t n) { return n <= kSmallData ? kSmallDataEpochs : kLargeDataEpochs; }

// Cosine and correlation distances reach 2 only for opposite points, which umap-learn
// disconnects.
void disconnect(KnnGraph& knn, Metric metric) {
  if (metric != Metric::cosine && metric != Metric::correlation) return;
  for (std::size_t e = 0; e < knn.indices.size(); ++e) {
    if (knn.distances[e] >= 2.0f) knn.indices[e] = -1;
  }
}

// Keeps the first k columns of a wider kNN graph.
KnnGraph first_columns(const KnnGraph& knn, std::size_t k) {
  KnnGraph out;
  out.n = knn.n;
  out.k = k;
  for (std::size_t i = 0; i < knn.n; ++i) {
    out.indices.insert(out.indices.end(), knn.indices.begin() + i * knn.k, knn.indices.begin() + i * knn.k + k);
    out.distances.insert(out.distances.end(), knn.distances.begin() + i * knn.k,
                         knn.distances.begin() + i * knn.k + k);
  }
  return out;
}

// umap-learn's noisy rescale of an initialisation: largest |coordinate| 10, plus N(0, 1e-4).
void noisy_scale(std::vector<float>& coords, Rng& rng) {
  float largest = 0.0f;
  for (const float v : coords) largest = std::max(largest, std::abs(v));
  const float expansion = largest > 0 ? 10.0f / largest : 1.0f;
  for (auto& v : coords) v = v * expansion + static_cast<float>(1e-4 * rng.normal());
}

std::vector<float> initial_layout(const CsrMatrix& graph, const UmapOptions& options, ConstMatrixF data, Rng& rng,
                                  bool& fell_back) {
  const std::size_t n = graph.rows, dim = options.n_components;
  std::vector<float> coords(n * dim);
  switch (options.init) {
    case UmapInit::user:
      SPATIALEMBED_CHECK(options.init_embedding.size() == n * dim, InvalidArgument,
                         "init_embedding has {} values, expected n x n_components = {} x {}",
                         options.init_embedding.size(), n, dim);
      return options.init_embedding;
    case UmapInit::random:
      for (auto& v : coords) v = static_cast<float>(20.0 * rng.uniform() - 10.0);
      return coords;
    case UmapInit::pca:
      SPATIALEMBED_CHECK(!data.empty(), InvalidArgument, "init 'pca' needs the data, not only a kNN graph");
      coords = principal_components(data, dim);
      noisy_scale(coords, rng);
      return coords;
    case UmapInit::spectral: {
      auto layout = spectral_layout(graph, dim, data, rng());
      fell_back = layout.fell_back;
      noisy_scale(layout.embedding, rng);
      return layout.embedding;
    }
  }
  return coords;
}

// Each column to [0, 10], as umap-learn does before the layout.
void rescale_columns(std::vector<float>& coords, std::size_t dim) {
  const std::size_t n = coords.size() / dim;
  for (std::size_t k = 0; k < dim; ++k) {
    float lo = HUGE_VALF, hi = -HUGE_VALF;
    for (std::size_t i = 0; i < n; ++i) {
      lo = std::min(lo, coords[i * dim + k]);
      hi = std::max(hi, coords[i * dim + k]);
    }
    const float range = hi - lo;
    for (std::size_t i = 0; i < n; ++i) coords[i * dim + k] = range > 0 ? 10.0f * (coords[i * dim + k] - lo) / range : 0.0f;
  }
}

// Edges whose weight is below max/epochs are never sampled, so umap-learn drops them.
CsrMatrix prune(const CsrMatrix& graph, std::size_t epochs) {
  const float largest = graph.data.empty() ? 0.0f : *std::max_element(graph.data.begin(), graph.data.end());
  const float threshold = largest / static_cast<float>(epochs);
  CsrMatrix out;
  out.rows = graph.rows;
  out.cols = graph.cols;
  out.indptr.push_back(0);
  for (std::size_t i = 0; i < graph.rows; ++i) {
    for (auto e = graph.indptr[i]; e < graph.indptr[i + 1]; ++e) {
      if (graph.data[e] < threshold) continue;
      out.indices.push_back(graph.indices[e]);
      out.data.push_back(graph.data[e]);
    }
    out.indptr.push_back(static_cast<std::int64_t>(out.indices.size()));
  }
  return out;
}

LayoutParams layout_params(const UmapOptions& options, AbParams ab, std::size_t epochs, double alpha,
                           double attraction_moves, std::uint64_t seed) {
  LayoutParams p;
  p.ab = ab;
  p.repulsion_strength = options.repulsion_strength;
  p.initial_alpha = alpha;
  p.negative_sample_rate = options.negative_sample_rate;
  p.attraction_moves = attraction_moves;
  p.n_epochs = epochs;
  p.seed = seed;
  p.num_threads = options.num_threads;
  p.progress = &options.progress;
  return p;
}

}  // namespace

UmapInit parse_umap_init(const std::string& name) {
  if (name == "spectral") return UmapInit::spectral;
  if (name == "pca") return UmapInit::pca;
  if (name == "random") return UmapInit::random;
  detail::raise<InvalidArgument>("init must be 'spectral', 'pca', 'random' or an array, got '{}'", name);
}

const char* to_string(UmapInit init) {
  switch (init) {
    case UmapInit::spectral: return "spectral";
    case UmapInit::pca: return "pca";
    case UmapInit::random: return "random";
    case UmapInit::user: return "user";
  }
  return "?";
}

KnnMethod parse_knn_method(const std::string& name) {
  if (name == "auto") return KnnMethod::automatic;
  if (name == "exact") return KnnMethod::exact;
  if (name == "nn_descent") return KnnMethod::nn_descent;
  detail::raise<InvalidArgument>("knn_method must be 'auto', 'exact' or 'nn_descent', got '{}'", name);
}

const char* to_string(KnnMethod method) {
  switch (method) {
    case KnnMethod::automatic: return "auto";
    case KnnMethod::exact: return "exact";
    case KnnMethod::nn_descent: return "nn_descent";
  }
  return "?";
}

void UmapOptions::validate() const {
  SPATIALEMBED_CHECK(n_neighbors >= 2, InvalidArgument, "n_neighbors must be >= 2, got {}", n_neighbors);
  SPATIALEMBED_CHECK(n_components >= 1, InvalidArgument, "n_components must be a positive integer (>= 1), got {}", n_components);
  SPATIALEMBED_CHECK(std::isfinite(spread) && spread > 0, InvalidArgument, "spread must be > 0, got {}", spread);
  SPATIALEMBED_CHECK(std::isfinite(min_dist) && min_dist >= 0 && min_dist <= spread, InvalidArgument,
                     "min_dist must be in [0, spread = {}], got {}", spread, min_dist);
  SPATIALEMBED_CHECK(std::isfinite(learning_rate) && learning_rate > 0, InvalidArgument,
                     "learning_rate must be > 0, got {}", learning_rate);
  SPATIALEMBED_CHECK(std::isfinite(negative_sample_rate) && negative_sample_rate >= 0, InvalidArgument,
                     "negative_sample_rate must be >= 0, got {}", negative_sample_rate);
  SPATIALEMBED_CHECK(std::isfinite(repulsion_strength) && repulsion_strength >= 0, InvalidArgument,
                     "repulsion_strength must be >= 0, got {}", repulsion_strength);
  SPATIALEMBED_CHECK(set_op_mix_ratio >= 0 && set_op_mix_ratio <= 1, InvalidArgument,
                     "set_op_mix_ratio must be in [0, 1], got {}", set_op_mix_ratio);
  SPATIALEMBED_CHECK(std::isfinite(local_connectivity) && local_connectivity >= 0, InvalidArgument,
                     "local_connectivity must be >= 0, got {}", local_connectivity);
  SPATIALEMBED_CHECK(std::isnan(a) == std::isnan(b), InvalidArgument, "give both a and b or neither, got a = {}, b = {}",
                     a, b);
  SPATIALEMBED_CHECK(std::isnan(a) || (a > 0 && b > 0 && std::isfinite(a) && std::isfinite(b)), InvalidArgument,
                     "a and b must be > 0, got a = {}, b = {}", a, b);
  SPATIALEMBED_CHECK(num_threads >= 0, InvalidArgument, "num_threads must be >= 0, got {}", num_threads);
}

AbParams UmapOptions::ab() const { return std::isnan(a) ? find_ab_params(spread, min_dist) : AbParams{a, b}; }

std::size_t UmapOptions::fit_epochs(std::size_t n) const { return n_epochs > 0 ? n_epochs : default_epochs(n); }

KnnGraph umap_neighbors(ConstMatrixF X, const UmapOptions& options) {
  options.validate();
  SPATIALEMBED_CHECK(X.rows >= 2, InvalidArgument, "UMAP needs at least 2 samples, got {}", X.rows);
  SPATIALEMBED_CHECK(options.n_neighbors < X.rows, InvalidArgument,
                     "n_neighbors must be < n_samples = {}, got {}", X.rows, options.n_neighbors);
  const bool exact = options.knn_method == KnnMethod::exact ||
                     (options.knn_method == KnnMethod::automatic && X.rows < kExactKnnBelow);
  if (exact) return exact_knn(X, options.n_neighbors, options.metric, options.num_threads);
  NnDescentOptions nnd;
  nnd.k = options.n_neighbors;
  nnd.metric = options.metric;
  nnd.seed = options.seed;
  nnd.num_threads = options.num_threads;
  return nn_descent(X, nnd);
}

UmapEmbedding umap_fit(ConstMatrixF X, const UmapOptions& options) {
  return umap_fit(umap_neighbors(X, options), options, X);
}

CsrMatrix umap_graph(const KnnGraph& knn_in, const UmapOptions& options) {
  options.validate();
  const std::size_t n = knn_in.n;
  SPATIALEMBED_CHECK(n >= 2, InvalidArgument, "UMAP needs at least 2 samples, got {}", n);
  SPATIALEMBED_CHECK(knn_in.k >= options.n_neighbors, InvalidArgument,
                     "the kNN graph has {} neighbours per point, fewer than n_neighbors = {}", knn_in.k,
                     options.n_neighbors);
  knn_in.validate(n);
  KnnGraph knn = knn_in.k == options.n_neighbors ? knn_in : first_columns(knn_in, options.n_neighbors);
  disconnect(knn, options.metric);
  return fuzzy_simplicial_set(knn, options.set_op_mix_ratio, options.local_connectivity);
}

UmapEmbedding umap_fit(const KnnGraph& knn, const UmapOptions& options, ConstMatrixF data) {
  return umap_fit(umap_graph(knn, options), options, data);
}

UmapEmbedding umap_fit(CsrMatrix graph, const UmapOptions& options, ConstMatrixF data) {
  options.validate();
  const std::size_t n = graph.rows;
  SPATIALEMBED_CHECK(n >= 2 && graph.cols == n && graph.indptr.size() == n + 1, InvalidArgument,
                     "UMAP needs a square fuzzy graph of at least 2 points, got {} x {}", graph.rows, graph.cols);
  SPATIALEMBED_CHECK(data.empty() || data.rows == n, InvalidArgument, "data has {} rows but the graph {}", data.rows,
                     n);

  UmapEmbedding result;
  result.n = n;
  result.n_components = options.n_components;
  result.graph = std::move(graph);
  result.ab = options.ab();
  result.n_epochs = options.fit_epochs(n);

  Rng rng(options.seed, 0x1417);
  result.embedding = initial_layout(result.graph, options, data, rng, result.spectral_fell_back);
  rescale_columns(result.embedding, options.n_components);
  // umap-learn prunes by the default epoch count when very few epochs are asked for.
  const CsrMatrix edges = prune(result.graph, result.n_epochs > 10 ? result.n_epochs : default_epochs(n));
  optimize_layout(result.embedding.data(), n, nullptr, n, options.n_components, edges,
                  layout_params(options, result.ab, result.n_epochs, options.learning_rate, 2.0, rng()));
  return result;
}

std::vector<float> umap_transform(ConstMatrixF X_train, ConstMatrixF embedding, ConstMatrixF Y,
                                  const UmapOptions& options) {
  options.validate();
  SPATIALEMBED_CHECK(embedding.rows == X_train.rows && embedding.cols == options.n_components, InvalidArgument,
                     "embedding is {} x {}, expected n_train x n_components = {} x {}", embedding.rows,
                     embedding.cols, X_train.rows, options.n_components);
  SPATIALEMBED_CHECK(Y.rows == 0 || Y.cols == X_train.cols, InvalidArgument,
                     "new data has {} features, the model was fitted on {}", Y.cols, X_train.cols);
  const std::size_t m = Y.rows, dim = options.n_components;
  std::vector<float> coords(m * dim, 0.0f);
  if (m == 0) return coords;
  KnnGraph knn = exact_knn(X_train, Y, options.n_neighbors, options.metric, options.num_threads);
  disconnect(knn, options.metric);
  const auto smooth = smooth_knn_dist(knn, static_cast<double>(options.n_neighbors),
                                      std::max(0.0, options.local_connectivity - 1.0));
  const CsrMatrix graph = membership_strengths(knn, smooth, X_train.rows, true);

  // Start at a coinciding training point, else the membership-weighted mean; NaN if none.
  for (std::size_t i = 0; i < m; ++i) {
    float* out = coords.data() + i * dim;
    double total = 0.0;
    for (auto e = graph.indptr[i]; e < graph.indptr[i + 1]; ++e) total += graph.data[e];
    if (graph.indptr[i] == graph.indptr[i + 1]) std::fill(out, out + dim, NAN);
    for (auto e = graph.indptr[i]; e < graph.indptr[i + 1]; ++e) {
      const float* source = embedding.row(static_cast<std::size_t>(graph.indices[e]));
      if (graph.data[e] == 1.0f) {
        std::copy(source, source + dim, out);
        break;
      }
      for (std::size_t k = 0; k < dim; ++k) out[k] += static_cast<float>(graph.data[e] / total * source[k]);
    }
  }
  const std::size_t epochs = options.n_epochs == 0 ? (m <= kSmallData ? 100 : 30) : options.n_epochs / 3;
  if (epochs == 0) return coords;
  const CsrMatrix edges = prune(graph, epochs);
  optimize_layout(coords.data(), m, embedding.data, X_train.rows, dim, edges,
                  layout_params(options, options.ab(), epochs, options.learning_rate / 4.0, 1.0,
                                Rng(options.seed, 0x7a5f)()));
  return coords;
}

// ------------------------------------------------------------------ stateful estimator

UMAP::UMAP(UmapOptions options) : options_(std::move(options)) { options_.validate(); }

const std::vector<float>& UMAP::fit(ConstMatrixF X) {
  result_ = umap_fit(X, options_);
  data_.assign(X.data, X.data + X.size());
  n_features_ = X.cols;
  return result_.embedding;
}

const std::vector<float>& UMAP::fit(const KnnGraph& knn, ConstMatrixF data) {
  result_ = umap_fit(knn, options_, data);
  data_.assign(data.data, data.data + data.size());
  n_features_ = data.empty() ? 0 : data.cols;
  return result_.embedding;
}

std::vector<float> UMAP::transform(ConstMatrixF Y) const {
  SPATIALEMBED_CHECK(result_.n > 0, Error, "UMAP.transform called before fit");
  SPATIALEMBED_CHECK(n_features_ > 0, InvalidArgument,
                     "transform needs the training data; it is unavailable with precomputed distances");
  UmapOptions options = options_;
  options.a = result_.ab.a;
  options.b = result_.ab.b;
  return umap_transform(ConstMatrixF(data_.data(), result_.n, n_features_), embedding(), Y, options);
}

namespace {

constexpr char kMagic[8] = {'S', 'E', 'U', 'M', 'A', 'P', '0', '1'};

class Writer {
 public:
  explicit Writer(std::ostream& out) : out_(out) {}
  template <class T>
  void value(T v) { out_.write(reinterpret_cast<const char*>(&v), sizeof(T)); }
  template <class T>
  void array(const std::vector<T>& v) {
    value<std::uint64_t>(v.size());
    out_.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
  }

 private:
  std::ostream& out_;
};

class Reader {
 public:
  Reader(std::istream& in, std::string path, std::uint64_t size) : in_(in), path_(std::move(path)), size_(size) {}
  template <class T>
  T value() {
    T v{};
    read(&v, sizeof(T));
    return v;
  }
  template <class T>
  std::vector<T> array() {
    const auto count = value<std::uint64_t>();
    SPATIALEMBED_CHECK(count <= (size_ - offset_) / sizeof(T), FormatError,
                       "{}: array of {} values at byte offset {} runs past the end of the file ({} bytes)", path_,
                       count, offset_, size_);
    std::vector<T> v(count);
    read(v.data(), count * sizeof(T));
    return v;
  }
  void read(void* out, std::size_t bytes) {
    SPATIALEMBED_CHECK(offset_ + bytes <= size_ && in_.read(static_cast<char*>(out), static_cast<std::streamsize>(bytes)),
                       FormatError, "{}: truncated at byte offset {} (file has {} bytes)", path_, offset_, size_);
    offset_ += bytes;
  }
  std::uint64_t offset() const { return offset_; }

 private:
  std::istream& in_;
  std::string path_;
  std::uint64_t size_;
  std::uint64_t offset_ = 0;
};

}  // namespace

void UMAP::save(const std::string& path, bool overwrite) const {
  SPATIALEMBED_CHECK(result_.n > 0, Error, "UMAP.save called before fit");
  SPATIALEMBED_CHECK(overwrite || !std::filesystem::exists(path), IOError,
                     "{} exists; pass overwrite = true to replace it", path);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  SPATIALEMBED_CHECK(out.good(), IOError, "cannot open {} for writing", path);
  write(out);
  SPATIALEMBED_CHECK(out.good(), IOError, "writing {} failed", path);
}

std::string UMAP::to_bytes() const {
  SPATIALEMBED_CHECK(result_.n > 0, Error, "UMAP.to_bytes called before fit");
  std::ostringstream out(std::ios::binary);
  write(out);
  return out.str();
}

UMAP UMAP::from_bytes(const std::string& bytes, const std::string& name) {
  std::istringstream in(bytes, std::ios::binary);
  return read(in, name, bytes.size());
}

void UMAP::write(std::ostream& out) const {
  Writer w(out);
  out.write(kMagic, sizeof(kMagic));
  const auto& o = options_;
  for (const std::uint64_t v : {std::uint64_t{o.n_neighbors}, std::uint64_t{o.n_components}, std::uint64_t{o.n_epochs},
                                static_cast<std::uint64_t>(o.metric), static_cast<std::uint64_t>(o.init),
                                static_cast<std::uint64_t>(o.knn_method), o.seed, std::uint64_t{result_.n},
                                std::uint64_t{n_features_}, std::uint64_t{result_.n_epochs}}) {
    w.value(v);
  }
  for (const double v : {o.min_dist, o.spread, o.learning_rate, o.negative_sample_rate, o.repulsion_strength,
                         o.set_op_mix_ratio, o.local_connectivity, result_.ab.a, result_.ab.b}) {
    w.value(v);
  }
  w.array(data_);
  w.array(result_.embedding);
}

UMAP UMAP::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SPATIALEMBED_CHECK(in.good(), IOError, "cannot open {}", path);
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  SPATIALEMBED_CHECK(!ec, IOError, "cannot read the size of {}: {}", path, ec.message());
  return read(in, path, size);
}

UMAP UMAP::read(std::istream& in, const std::string& path, std::uint64_t size) {
  Reader r(in, path, size);
  char magic[sizeof(kMagic)];
  r.read(magic, sizeof(magic));
  SPATIALEMBED_CHECK(std::memcmp(magic, kMagic, sizeof(kMagic)) == 0, FormatError,
                     "{}: not a spatialembed UMAP model (bad signature at byte offset 0)", path);
  UmapOptions o;
  o.n_neighbors = r.value<std::uint64_t>();
  o.n_components = r.value<std::uint64_t>();
  o.n_epochs = r.value<std::uint64_t>();
  const auto metric = r.value<std::uint64_t>(), init = r.value<std::uint64_t>(), knn = r.value<std::uint64_t>();
  SPATIALEMBED_CHECK(metric <= static_cast<std::uint64_t>(Metric::manhattan) &&
                         init <= static_cast<std::uint64_t>(UmapInit::user) &&
                         knn <= static_cast<std::uint64_t>(KnnMethod::nn_descent),
                     FormatError, "{}: invalid metric/init/knn codes {}/{}/{} near byte offset {}", path, metric, init,
                     knn, r.offset());
  o.metric = static_cast<Metric>(metric);
  o.init = static_cast<UmapInit>(init) == UmapInit::user ? UmapInit::random : static_cast<UmapInit>(init);
  o.knn_method = static_cast<KnnMethod>(knn);
  o.seed = r.value<std::uint64_t>();
  UMAP model;
  model.result_.n = r.value<std::uint64_t>();
  model.n_features_ = r.value<std::uint64_t>();
  model.result_.n_epochs = r.value<std::uint64_t>();
  o.min_dist = r.value<double>();
  o.spread = r.value<double>();
  o.learning_rate = r.value<double>();
  o.negative_sample_rate = r.value<double>();
  o.repulsion_strength = r.value<double>();
  o.set_op_mix_ratio = r.value<double>();
  o.local_connectivity = r.value<double>();
  model.result_.ab.a = r.value<double>();
  model.result_.ab.b = r.value<double>();
  model.data_ = r.array<float>();
  model.result_.embedding = r.array<float>();
  SPATIALEMBED_CHECK(model.data_.size() == model.result_.n * model.n_features_ &&
                         model.result_.embedding.size() == model.result_.n * o.n_components,
                     FormatError, "{}: array sizes do not match n = {}, n_features = {}, n_components = {}", path,
                     model.result_.n, model.n_features_, o.n_components);
  o.validate();
  model.options_ = o;
  model.result_.n_components = o.n_components;
  return model;
}

}  // namespace spatialembed
