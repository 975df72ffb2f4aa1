#pragma once
/// @file
/// UMAP (McInnes, Healy & Melville 2018, arXiv:1802.03426), following umap-learn 0.5 step by
/// step, with a multithreaded layout that gives bit-identical output for any thread count.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "spatialembed/common/csr_matrix.hpp"
#include "spatialembed/common/matrix_view.hpp"
#include "spatialembed/common/progress.hpp"
#include "spatialembed/manifold/ab_params.hpp"
#include "spatialembed/neighbors/knn_graph.hpp"
#include "spatialembed/neighbors/metric.hpp"

namespace spatialembed {

/// How the layout starts.
enum class UmapInit {
  spectral,  ///< Laplacian eigenmap of the fuzzy graph (umap-learn's default)
  pca,       ///< first principal components of the data
  random,    ///< uniform in [−10, 10]
  user,      ///< `UmapOptions::init_embedding`
};
/// Parses "spectral", "pca" or "random"; throws InvalidArgument otherwise.
UmapInit parse_umap_init(const std::string& name);
/// The name `parse_umap_init` accepts ("user" for an `init_embedding`).
const char* to_string(UmapInit init);

/// How the k nearest neighbours are found.
enum class KnnMethod {
  automatic,   ///< exact below 4,096 points, NN-descent from 4,096 on (umap-learn's switch)
  exact,       ///< blocked GEMM, O(n²d)
  nn_descent,  ///< NN-descent with random-projection-tree initialisation
};
/// Parses "auto", "exact" or "nn_descent"; throws InvalidArgument otherwise.
KnnMethod parse_knn_method(const std::string& name);
/// The name `parse_knn_method` accepts ("auto" for automatic).
const char* to_string(KnnMethod method);

/// UMAP options, named and defaulted as in umap-learn. `validate()` checks them all.
struct UmapOptions {
  std::size_t n_neighbors = 15;        ///< neighbours per point, itself included; ≥ 2, < n
  std::size_t n_components = 2;        ///< output dimensions; ≥ 1
  Metric metric = Metric::euclidean;   ///< input distance (precomputed: pass a KnnGraph)
  double min_dist = 0.1;               ///< output-space distance where similarity starts to fall; [0, spread]
  double spread = 1.0;                 ///< output-space scale of the similarity curve; > 0
  std::size_t n_epochs = 0;            ///< layout epochs; 0 = auto: 500 for n ≤ 10,000, else 200
  double learning_rate = 1.0;          ///< initial SGD step, decays linearly to 0; > 0
  UmapInit init = UmapInit::spectral;  ///< starting layout
  std::vector<float> init_embedding;   ///< n × n_components row-major, for init = user
  double negative_sample_rate = 5.0;   ///< negative samples per positive edge sample; ≥ 0
  double repulsion_strength = 1.0;     ///< weight γ of the negative samples; ≥ 0
  double set_op_mix_ratio = 1.0;       ///< 1 = fuzzy union, 0 = fuzzy intersection; [0, 1]
  double local_connectivity = 1.0;     ///< neighbours assumed connected (ρ); ≥ 0
  double a = NAN;                      ///< curve parameter a; NaN = fitted from min_dist, spread
  double b = NAN;                      ///< curve parameter b; NaN = fitted from min_dist, spread
  KnnMethod knn_method = KnnMethod::automatic;  ///< neighbour search
  std::uint64_t seed = 0;              ///< every random choice derives from it
  int num_threads = 0;                 ///< 0 = all cores; the output does not depend on it
  ProgressCallback progress;           ///< called after each epoch with (epoch, n_epochs)

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
  /// a and b: the given ones, or `find_ab_params(spread, min_dist)`.
  AbParams ab() const;
  /// Epochs for a fit of n points (umap-learn's default when n_epochs = 0).
  std::size_t fit_epochs(std::size_t n) const;
};

/// A fitted UMAP embedding and what produced it.
struct UmapEmbedding {
  std::vector<float> embedding;  ///< n × n_components, row-major float32
  std::size_t n = 0;             ///< points
  std::size_t n_components = 0;  ///< columns of `embedding`
  CsrMatrix graph;               ///< the fuzzy simplicial set (n × n, symmetric), before epoch pruning
  AbParams ab{};                 ///< curve parameters used
  std::size_t n_epochs = 0;      ///< epochs run
  bool spectral_fell_back = false;  ///< spectral init failed and random init was used
};

/// The k nearest neighbours (k = n_neighbors) of the rows of X as UMAP computes them:
/// exact or NN-descent per `options.knn_method`, each point its own neighbour 0.
KnnGraph umap_neighbors(ConstMatrixF X, const UmapOptions& options);

/// UMAP of the rows of `X` (row-major float32, n × d): kNN graph, fuzzy simplicial set,
/// initialisation, SGD layout. Throws InvalidArgument for invalid options, fewer than 2
/// points, n_neighbors ≥ n, NaN/inf in X, or rows the metric cannot handle.
UmapEmbedding umap_fit(ConstMatrixF X, const UmapOptions& options);

/// UMAP from a precomputed kNN graph of n points (each row's neighbour 0 the point itself).
/// `data` (n × d) is used only for init = pca and to place disconnected components; may be
/// empty.
UmapEmbedding umap_fit(const KnnGraph& knn, const UmapOptions& options, ConstMatrixF data = {});

/// The fuzzy simplicial set UMAP lays out for a kNN graph (first n_neighbors columns; cosine
/// and correlation neighbours at distance 2 dropped, as umap-learn does): n × n, symmetric.
/// Throws InvalidArgument for invalid options, fewer than 2 points or too few neighbours.
CsrMatrix umap_graph(const KnnGraph& knn, const UmapOptions& options);

/// UMAP's layout of a given fuzzy graph (n × n, symmetric, values in (0, 1]: `umap_graph`'s, or
/// several composed, e.g. `fuzzy_set_intersection`): initialisation and SGD as for a kNN graph;
/// the options' neighbour and metric fields are not used. `data` as above.
UmapEmbedding umap_fit(CsrMatrix graph, const UmapOptions& options, ConstMatrixF data = {});

/// Embeds new points `Y` (m × d) against a fitted model, as umap-learn's `transform`: their
/// n_neighbors nearest training points, memberships with local_connectivity − 1, start at the
/// membership-weighted mean of those points' coordinates (or at a training point they
/// coincide with), then n_epochs/3 epochs (100 or 30 by default) at learning_rate/4 with the
/// training embedding fixed. Returns m × n_components row-major float32.
std::vector<float> umap_transform(ConstMatrixF X_train, ConstMatrixF embedding, ConstMatrixF Y,
                                  const UmapOptions& options);

/// UMAP as a stateful estimator: `fit` keeps a copy of the training data so that
/// `transform` and `save`/`load` are self-contained. Python's `spatialembed.UMAP` is this class.
class UMAP {
 public:
  /// Throws InvalidArgument for invalid options.
  explicit UMAP(UmapOptions options = {});

  /// Fits on X; returns the n × n_components embedding.
  const std::vector<float>& fit(ConstMatrixF X);
  /// Fits from a precomputed kNN graph (see `umap_fit`); `data` (n × d, may be empty) is kept
  /// for `transform`, which needs it.
  const std::vector<float>& fit(const KnnGraph& knn, ConstMatrixF data = {});
  /// Embeds new points (see `umap_transform`); throws Error if not fitted, InvalidArgument when
  /// the model was fitted without its training data (a kNN graph alone).
  std::vector<float> transform(ConstMatrixF Y) const;
  /// True once `fit` or `load` has run.
  bool fitted() const { return result_.n > 0; }
  /// Columns of the training data (0 when fitted from a kNN graph alone).
  std::size_t n_features() const { return n_features_; }
  /// The options (a, b as given; `result().ab` holds those used); num_threads may be changed
  /// after fit (it does not change results).
  UmapOptions& options() { return options_; }

  const UmapOptions& options() const { return options_; }
  const UmapEmbedding& result() const { return result_; }
  ConstMatrixF embedding() const { return {result_.embedding.data(), result_.n, result_.n_components}; }

  /// Writes options, curve parameters, training data and embedding to a binary file;
  /// refuses to overwrite an existing file unless `overwrite`. Throws IOError.
  void save(const std::string& path, bool overwrite = false) const;
  /// Reads a model written by `save`; throws IOError, or FormatError naming the file and
  /// byte offset when it is truncated or not such a file.
  static UMAP load(const std::string& path);
  /// The bytes `save` writes (for pickling); throws Error if not fitted.
  std::string to_bytes() const;
  /// A model from `to_bytes`' output; throws FormatError naming `name` and the byte offset.
  static UMAP from_bytes(const std::string& bytes, const std::string& name = "UMAP bytes");

 private:
  void write(std::ostream& out) const;
  static UMAP read(std::istream& in, const std::string& name, std::uint64_t size);

  UmapOptions options_;
  UmapEmbedding result_;
  std::vector<float> data_;
  std::size_t n_features_ = 0;
};

}  // namespace spatialembed
