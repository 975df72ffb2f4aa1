#pragma once
/// @file
/// Expression prediction by retrieval and its scores, as BLEEP evaluates (Xie et al., NeurIPS
/// 2023; bowang-lab/BLEEP BLEEP_inference.ipynb): each query spot's image embedding is
/// compared by cosine similarity with the gene embeddings of the reference spots; the
/// expression of the k most similar reference spots is averaged (k = 50); every gene is then
/// scored by the Pearson r between predicted and measured expression over the query spots,
/// and genes lists (top-50 most expressed, top-50 most variable, ...) by their mean r.
///
/// Plain arrays, no LibTorch. Row-major float32 throughout.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace spatialembed {

/// How the k retrieved reference spots' expression becomes the prediction.
enum class RetrievalAggregation {
  mean,      ///< plain mean (BLEEP "average")
  weighted,  ///< BLEEP "weighted_average": weights exp(−(‖r_i − q‖² − min_j ‖r_j − q‖²)) over the k, on the embeddings as given
};
RetrievalAggregation parse_retrieval_aggregation(const std::string& name);  ///< "mean", "weighted"
std::string to_string(RetrievalAggregation aggregation);

/// Options of `predict_expression`.
struct RetrievalOptions {
  std::size_t k = 50;            ///< reference spots per query; ≥ 1 (at most the reference count)
  RetrievalAggregation aggregation = RetrievalAggregation::mean;
  int num_threads = 0;           ///< 0 = all cores; ≥ 0. Results do not depend on it.
  void validate() const;         ///< throws InvalidArgument naming the field
};

/// The k reference rows most similar by cosine to each query row: `query` n_query × dim,
/// `reference` n_reference × dim float32 → n_query × k indices into reference, most similar
/// first (ties: lower index first). Zero rows have similarity 0 to everything. Throws
/// InvalidArgument for k = 0 or > n_reference, dim = 0, NaN or inf.
std::vector<std::uint32_t> nearest_by_cosine(const float* query, std::size_t n_query, const float* reference,
                                             std::size_t n_reference, std::size_t dim, std::size_t k,
                                             int num_threads = 0);

/// Predicted expression n_query × n_genes float32 of query spots: the k nearest reference
/// embeddings by cosine (`nearest_by_cosine`), their rows of `reference_expression`
/// (n_reference × n_genes, e.g. every gene of the reference, log-normalised) aggregated as
/// options say. Throws InvalidArgument for invalid options or input.
std::vector<float> predict_expression(const float* query, std::size_t n_query, const float* reference,
                                      std::size_t n_reference, std::size_t dim, const float* reference_expression,
                                      std::size_t n_genes, const RetrievalOptions& options = {});

/// Pearson r of every gene (column) between `predicted` and `measured` (both n × n_genes
/// float32) over the n spots, in double precision; NaN for a gene that is constant in either.
/// Throws InvalidArgument for n < 2 or NaN / inf.
std::vector<double> pearson_per_gene(const float* predicted, const float* measured, std::size_t n,
                                     std::size_t n_genes);

/// Mean of `values` over the indices in `genes`, NaN entries skipped (BLEEP drops NaN
/// correlations); NaN when none is left. Throws InvalidArgument for an index out of range.
double mean_over(const std::vector<double>& values, const std::vector<std::size_t>& genes);

/// Indices of the `count` genes with the highest mean over the n spots of `expression`
/// (n × n_genes float32), highest first, ties to the lower index: the top-k HEG.
std::vector<std::size_t> highest_mean_genes(const float* expression, std::size_t n, std::size_t n_genes,
                                            std::size_t count);

/// Top-1 retrieval accuracy: the fraction of query rows whose most cosine-similar reference
/// row is the row of the same index (query i ↔ reference i; n_query ≤ n_reference).
double top1_accuracy(const float* query, std::size_t n_query, const float* reference, std::size_t n_reference,
                     std::size_t dim, int num_threads = 0);

}  // namespace spatialembed
