#pragma once
// Dense spots × genes count tables in text form (her2st TSV, STimage-1K4M CSV), read straight
// into CSR. Internal to the spatial readers.

#include <string>
#include <vector>

#include "spatialembed/common/csr_matrix.hpp"

namespace spatialembed::detail {

struct CountTable {
  std::vector<std::string> row_ids;  ///< first column of each data row
  std::vector<std::string> genes;    ///< header fields after the first
  CsrMatrix counts;                  ///< rows × genes, zeros not stored
  bool integer = true;               ///< every value is a whole number
};

/// Reads a table whose header is `<anything> gene1 gene2 …` and whose rows are
/// `<row id> value value …`. Throws FormatError naming the file, the row and the gene for a
/// ragged row, a non-numeric or non-finite value or an empty table, and InvalidArgument for a
/// negative count. Duplicated row ids are the caller's to check.
CountTable read_count_table(const std::string& path, char delimiter);

}  // namespace spatialembed::detail
