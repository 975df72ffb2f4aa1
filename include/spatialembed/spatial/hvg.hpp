#pragma once
/// @file
/// Highly variable gene (HVG) selection over one or several spatial-transcriptomics sections
/// ("batches"), with scanpy's three flavours:
///
/// - `seurat` — scanpy.pp.highly_variable_genes(flavor="seurat", n_top_genes=…), Satija et
///   al. 2015: on log1p-normalised data, dispersion var/mean of expm1(x), normalised within
///   20 equal-width bins of log1p(mean).
/// - `seurat_v3` — flavor="seurat_v3", Stuart et al. 2019: on raw counts, variance of counts
///   standardised by a loess fit of log10 variance on log10 mean.
/// - `pearson_residuals` — scanpy.experimental.pp.highly_variable_genes, Lause, Berens &
///   Kobak 2021: on raw counts, variance of analytic Pearson residuals of a negative-binomial
///   offset model (θ = 100), as STimage-1K4M selects its genes.
///
/// Several batches give scanpy's `batch_key` behaviour: statistics per batch, merged. Every
/// batch's columns must already be the same genes (see `match_genes`). The formulas, the
/// tie order and where results differ from scanpy are in docs/spatial_expression.md.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "spatialembed/common/csr_matrix.hpp"
#include "spatialembed/spatial/expression.hpp"

namespace spatialembed {

/// The HVG method.
enum class HvgFlavor {
  seurat,             ///< dispersion of expm1(log1p-normalised data), normalised per mean bin (scanpy's default)
  seurat_v3,          ///< loess-standardised variance of raw counts (scanpy flavor="seurat_v3")
  pearson_residuals,  ///< variance of clipped analytic Pearson residuals of raw counts (scanpy.experimental)
};
/// "seurat", "seurat_v3" or "pearson_residuals".
const char* to_string(HvgFlavor flavor);
/// Parses the names `to_string` gives; throws InvalidArgument otherwise.
HvgFlavor parse_hvg_flavor(const std::string& name);

/// Options of `highly_variable_genes`. `validate()` is the one place they are checked.
struct HvgOptions {
  HvgFlavor flavor = HvgFlavor::seurat;  ///< the method; scanpy's default
  std::size_t n_top_genes = 2000;        ///< genes to select; ≥ 1; more than there are genes selects them all (as scanpy)
  std::size_t n_bins = 20;               ///< seurat: equal-width bins of log1p(mean) (pandas.cut); 1 … 10000
  double span = 0.3;                     ///< seurat_v3: loess span, the fraction of genes in each local fit; (0, 1]
  double theta = 100.0;                  ///< pearson_residuals: negative-binomial overdispersion θ (var = μ + μ²/θ); > 0, +inf = Poisson
  double clip = 0.0;                     ///< pearson_residuals: residuals clipped to [-clip, clip]; ≤ 0 = √(spots of the batch), +inf = no clipping
  int num_threads = 0;                   ///< worker threads (genes in parallel); 0 = all cores; ≥ 0; results do not depend on it

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
};

/// Per-gene results, scanpy's column names. Vectors have one entry per gene (column) where
/// the flavour defines the column and are empty where it does not.
struct HvgResult {
  HvgFlavor flavor = HvgFlavor::seurat;  ///< the flavour that made it
  std::size_t n_batches = 0;             ///< batches (sections) given
  std::vector<std::uint8_t> highly_variable;               ///< 1 = selected (all flavours)
  std::vector<double> means;                               ///< seurat: log1p(mean of expm1(x)) (nanmean over batches); seurat_v3, pearson_residuals: mean count over all spots
  std::vector<double> variances;                           ///< seurat_v3, pearson_residuals: variance (ddof = 1) of counts over all spots
  std::vector<double> dispersions;                         ///< seurat: log(var / mean) of expm1(x), NaN where var = 0 (nanmean over batches)
  std::vector<double> dispersions_norm;                    ///< seurat: dispersion standardised within its mean bin (nanmean over batches)
  std::vector<double> variances_norm;                      ///< seurat_v3: variance of loess-standardised, clipped counts (mean over batches)
  std::vector<double> residual_variances;                  ///< pearson_residuals: variance (ddof = 0) of clipped Pearson residuals (mean over batches)
  std::vector<double> highly_variable_rank;                ///< seurat_v3, pearson_residuals: 0-based rank within each batch, median over the batches where the gene is in the top n_top_genes; NaN where it is in none
  std::vector<std::int32_t> highly_variable_nbatches;      ///< all flavours: batches in which the gene is among that batch's top genes
  std::vector<std::uint8_t> highly_variable_intersection;  ///< all flavours: nbatches == n_batches (scanpy reports it for seurat and pearson_residuals)
  std::vector<std::string> warnings;                       ///< e.g. non-integer values where raw counts are expected (scanpy warns too)
};

/// Highly variable genes of one or several batches (sections) whose columns are the same
/// genes, each batch a spots × genes CSR matrix (float32) with at least 2 spots.
///
/// Input as scanpy expects it: `seurat` takes log1p-normalised data (normalize_total then
/// log1p); `seurat_v3` and `pearson_residuals` take raw counts. Values must be finite and
/// ≥ 0. `pearson_residuals` needs every spot to have a positive total.
///
/// One batch follows scanpy's batch_key=None path, several its batch_key path (per-batch
/// statistics; seurat and pearson_residuals drop the genes a batch does not express before
/// computing that batch's statistics, and give them 0). Sorting is stable: ties keep the
/// column order (see the docs for where scanpy's order can differ). Runs over genes in
/// parallel; results are identical for any num_threads. Throws InvalidArgument for invalid
/// options or input (naming the batch, spot, gene and value).
HvgResult highly_variable_genes(const std::vector<ConstCsrView>& batches, const HvgOptions& options = {});

/// The same from raw counts for every flavour: for `seurat` each batch is first copied,
/// normalised with `normalize_total(normalize)` and `log1p`-transformed (scanpy's usual
/// recipe); the other flavours use the counts as they are (`normalize` is then unused).
HvgResult highly_variable_genes_from_counts(const std::vector<ConstCsrView>& counts, const HvgOptions& options = {},
                                            const NormalizeTotalOptions& normalize = {});

}  // namespace spatialembed
