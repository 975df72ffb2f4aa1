#pragma once
/// @file
/// Expression matrices of spatial-transcriptomics sections (spots × genes, CSR, float32):
/// checks, `normalize_total` and `log1p` as scanpy defines them, and gene filtering with
/// scanpy's `filter_genes` semantics.
///
/// Rows are spots, columns genes; values are raw counts (UMIs) unless a function says
/// otherwise. Every function checks its input first (`check_expression`), so NaN, ±inf,
/// negative values or a broken CSR structure throw InvalidArgument naming the spot (row),
/// the gene (column) and the value.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "spatialembed/common/csr_matrix.hpp"

namespace spatialembed {

/// Throws InvalidArgument unless `x` is a well-formed spots × genes expression matrix:
/// `indptr` starts at 0 and never decreases, column indices lie in [0, cols) and no column
/// appears twice in a row, every stored value is finite and ≥ 0. `what` names the matrix in
/// the message ("counts", "section 2"), e.g. "counts: value at spot 5, gene 17 is -1; expected
/// finite values ≥ 0". O(nnz) time, O(cols) memory.
void check_expression(const ConstCsrView& x, const std::string& what = "counts");

/// Options of `normalize_total`. `validate()` is the one place they are checked.
struct NormalizeTotalOptions {
  double target_sum = 1e4;  ///< total of every spot after normalisation; finite > 0, or 0 = the median of the positive spot totals (scanpy's target_sum=None)
  int num_threads = 0;      ///< worker threads (spots in parallel); 0 = all cores; ≥ 0

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
};

/// Per-spot totals Σ_j x_ij (float64, one per row) of a checked matrix.
std::vector<double> spot_totals(const ConstCsrView& x);

/// scanpy.pp.normalize_total (without exclude_highly_expressed): every spot's values are
/// scaled by target_sum / (its total), in place, so that each spot sums to target_sum; spots
/// whose total is 0 stay 0. The scale is computed in float64 and each value rounded once to
/// float32 (scanpy rounds the scale to float32 first: results differ by ≤ 1 ulp).
/// The sparsity structure is unchanged. Throws InvalidArgument for invalid options or input.
void normalize_total(CsrMatrix& x, const NormalizeTotalOptions& options = {});

/// Natural log1p in place: x ← ln(1 + x) for every stored value (zeros stay zeros), computed
/// in float64 and rounded to float32. Input must pass `check_expression` (finite, ≥ 0).
/// num_threads: 0 = all cores.
void log1p(CsrMatrix& x, int num_threads = 0);

/// Options of `filter_genes`. A gene is kept when it passes every enabled criterion.
struct FilterGenesOptions {
  std::size_t min_spots = 0;  ///< keep genes with a value > 0 in at least this many spots (scanpy's min_cells); 0 = off
  double min_counts = 0.0;    ///< keep genes whose values sum to at least this over all spots (scanpy's min_counts); finite ≥ 0; 0 = off

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
};

/// What `filter_genes` returns: one entry per gene (column).
struct GeneFilter {
  std::vector<std::uint8_t> keep;     ///< 1 = the gene passes every enabled criterion
  std::vector<std::int64_t> n_spots;  ///< spots with a value > 0 (scanpy's n_cells)
  std::vector<double> n_counts;       ///< sum of the gene's values over all spots
};

/// scanpy.pp.filter_genes(min_cells=…, min_counts=…, inplace=False) as a keep mask; scanpy
/// accepts one criterion per call, here both may be given and both must hold. Throws
/// InvalidArgument for invalid options or input.
GeneFilter filter_genes(const ConstCsrView& x, const FilterGenesOptions& options = {});

}  // namespace spatialembed
