#include "spatialembed/spatial/section.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

namespace {

// At most this many ids are spelled out in a warning; the full lists are in the Section.
constexpr std::size_t kIdsInWarning = 10;

std::string id_list(const std::vector<std::string>& ids) {
  std::string text;
  for (std::size_t i = 0; i < ids.size() && i < kIdsInWarning; ++i) text += (i ? ", " : "") + ids[i];
  if (ids.size() > kIdsInWarning) text += fmt::format(", … ({} in all)", ids.size());
  return text;
}

template <class T>
void check_size(const Section& s, const std::vector<T>& values, const char* field, bool optional = false) {
  SPATIALEMBED_CHECK(values.size() == s.n_spots() || (optional && values.empty()), InvalidArgument,
                     "section '{}': spots.{} has {} entries for {} spots", s.name, field, values.size(), s.n_spots());
}

}  // namespace

void Section::validate() const {
  check_size(*this, spots.x, "x");
  check_size(*this, spots.y, "y");
  check_size(*this, spots.array_col, "array_col");
  check_size(*this, spots.array_row, "array_row");
  check_size(*this, spots.in_tissue, "in_tissue");
  check_size(*this, spots.labels, "labels", true);
  SPATIALEMBED_CHECK(n_spots() > 0, InvalidArgument, "section '{}' has no spots", name);
  SPATIALEMBED_CHECK(n_genes() > 0, InvalidArgument, "section '{}' has no genes", name);
  SPATIALEMBED_CHECK(gene_ids.empty() || gene_ids.size() == n_genes(), InvalidArgument,
                     "section '{}': {} gene ids for {} gene names", name, gene_ids.size(), n_genes());
  SPATIALEMBED_CHECK(counts.rows == n_spots() && counts.cols == n_genes(), InvalidArgument,
                     "section '{}': counts are {} × {}, expected spots × genes = {} × {}", name, counts.rows,
                     counts.cols, n_spots(), n_genes());
  SPATIALEMBED_CHECK(counts.indptr.size() == counts.rows + 1 && counts.indptr.front() == 0 &&
                         static_cast<std::size_t>(counts.indptr.back()) == counts.nnz() &&
                         counts.indices.size() == counts.nnz(),
                     InvalidArgument, "section '{}': the counts' CSR arrays are inconsistent", name);
  for (std::size_t i = 0; i < counts.rows; ++i) {
    SPATIALEMBED_CHECK(counts.indptr[i] <= counts.indptr[i + 1], InvalidArgument,
                       "section '{}': counts indptr decreases at row {}", name, i);
    for (auto k = counts.indptr[i]; k < counts.indptr[i + 1]; ++k) {
      const auto j = counts.indices[static_cast<std::size_t>(k)];
      const float v = counts.data[static_cast<std::size_t>(k)];
      SPATIALEMBED_CHECK(j >= 0 && static_cast<std::size_t>(j) < counts.cols, InvalidArgument,
                         "section '{}': spot {} has a count in column {} of {}", name, spots.ids[i], j, counts.cols);
      SPATIALEMBED_CHECK(std::isfinite(v) && v >= 0, InvalidArgument,
                         "section '{}': spot {}, gene {}: counts must be finite and ≥ 0, got {}", name,
                         spots.ids[i], gene_names[static_cast<std::size_t>(j)], v);
    }
  }
  for (std::size_t i = 0; i < n_spots(); ++i) {
    SPATIALEMBED_CHECK(std::isfinite(spots.x[i]) && std::isfinite(spots.y[i]), InvalidArgument,
                       "section '{}': spot {} has a non-finite position ({}, {})", name, spots.ids[i], spots.x[i],
                       spots.y[i]);
  }
  std::unordered_set<std::string> seen;
  for (const auto& id : spots.ids) {
    SPATIALEMBED_CHECK(seen.insert(id).second, InvalidArgument, "section '{}': spot id '{}' occurs twice", name, id);
  }
  SPATIALEMBED_CHECK(std::isfinite(spot_diameter) && spot_diameter > 0, InvalidArgument,
                     "section '{}': spot_diameter must be > 0 pixels, got {}", name, spot_diameter);
  SPATIALEMBED_CHECK(std::isfinite(provenance.image_scale) && provenance.image_scale > 0, InvalidArgument,
                     "section '{}': provenance.image_scale must be > 0, got {}", name, provenance.image_scale);
}

void pair_spots_with_counts(Section& section, const std::vector<std::string>& row_ids, CsrMatrix counts,
                            const std::string& counts_path) {
  std::unordered_map<std::string, std::size_t> row_of;
  row_of.reserve(row_ids.size());
  for (std::size_t r = 0; r < row_ids.size(); ++r) {
    SPATIALEMBED_CHECK(row_of.emplace(row_ids[r], r).second, FormatError, "{}: row id '{}' occurs twice", counts_path,
                       row_ids[r]);
  }
  Spots kept;
  std::vector<std::size_t> rows;
  std::vector<std::uint8_t> used(row_ids.size(), 0);
  const Spots& all = section.spots;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto found = row_of.find(all.ids[i]);
    if (found == row_of.end()) {
      section.spots_without_counts.push_back(all.ids[i]);
      continue;
    }
    used[found->second] = 1;
    rows.push_back(found->second);
    kept.ids.push_back(all.ids[i]);
    kept.x.push_back(all.x[i]);
    kept.y.push_back(all.y[i]);
    kept.array_col.push_back(all.array_col[i]);
    kept.array_row.push_back(all.array_row[i]);
    kept.in_tissue.push_back(all.in_tissue[i]);
    if (!all.labels.empty()) kept.labels.push_back(all.labels[i]);
  }
  for (std::size_t r = 0; r < row_ids.size(); ++r) {
    if (!used[r]) section.counts_without_spots.push_back(row_ids[r]);
  }
  SPATIALEMBED_CHECK(!rows.empty(), InvalidArgument,
                     "section '{}': none of the {} spot ids matches one of the {} count rows of {} (spot ids look "
                     "like '{}', count rows like '{}')",
                     section.name, all.size(), row_ids.size(), counts_path, all.size() ? all.ids[0] : "",
                     row_ids.empty() ? "" : row_ids[0]);
  if (!section.spots_without_counts.empty()) {
    section.warnings.push_back(fmt::format("section '{}': {} spot(s) have no count row in {} and are left out: {}",
                                           section.name, section.spots_without_counts.size(), counts_path,
                                           id_list(section.spots_without_counts)));
  }
  if (!section.counts_without_spots.empty()) {
    section.warnings.push_back(fmt::format("section '{}': {} count row(s) of {} have no spot position and are left out: {}",
                                           section.name, section.counts_without_spots.size(), counts_path,
                                           id_list(section.counts_without_spots)));
  }

  // Gather the kept rows in spot order.
  CsrMatrix out;
  out.rows = rows.size();
  out.cols = counts.cols;
  out.indptr.assign(1, 0);
  out.indptr.reserve(rows.size() + 1);
  for (const std::size_t r : rows) {
    const auto begin = static_cast<std::size_t>(counts.indptr[r]);
    const auto end = static_cast<std::size_t>(counts.indptr[r + 1]);
    out.indices.insert(out.indices.end(), counts.indices.begin() + begin, counts.indices.begin() + end);
    out.data.insert(out.data.end(), counts.data.begin() + begin, counts.data.begin() + end);
    out.indptr.push_back(static_cast<std::int64_t>(out.data.size()));
  }
  section.counts = std::move(out);
  section.spots = std::move(kept);
}

double median_grid_spacing(const Spots& spots) {
  std::unordered_map<std::int64_t, std::size_t> at;  // grid position → spot
  const auto key = [](std::int64_t col, std::int64_t row) { return (col << 32) ^ (row & 0xffffffff); };
  for (std::size_t i = 0; i < spots.size(); ++i) {
    if (spots.array_col[i] >= 0 && spots.array_row[i] >= 0) at.emplace(key(spots.array_col[i], spots.array_row[i]), i);
  }
  std::vector<double> distances;
  for (std::size_t i = 0; i < spots.size(); ++i) {
    if (spots.array_col[i] < 0 || spots.array_row[i] < 0) continue;
    for (const auto& [dc, dr] : {std::pair<int, int>{1, 0}, std::pair<int, int>{0, 1}}) {
      const auto found = at.find(key(spots.array_col[i] + dc, spots.array_row[i] + dr));
      if (found == at.end()) continue;
      distances.push_back(std::hypot(spots.x[found->second] - spots.x[i], spots.y[found->second] - spots.y[i]));
    }
  }
  if (distances.empty()) return 0;
  auto middle = distances.begin() + static_cast<std::ptrdiff_t>(distances.size() / 2);
  std::nth_element(distances.begin(), middle, distances.end());
  return *middle;
}

}  // namespace spatialembed
