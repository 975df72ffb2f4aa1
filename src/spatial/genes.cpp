#include "spatialembed/spatial/genes.hpp"

#include <string>
#include <unordered_map>
#include <unordered_set>

#include "spatialembed/common/error.hpp"

namespace spatialembed {

namespace {

// The matching key of a gene: its name, or name + '\x1f' + id where the name repeats.
std::string key_of(const std::string& name, const std::string& id, bool by_id) {
  return by_id ? name + '\x1f' + id : name;
}

}  // namespace

GeneMatch match_genes(const std::vector<std::vector<std::string>>& names,
                      const std::vector<std::vector<std::string>>& ids) {
  const std::size_t n_sections = names.size();
  SPATIALEMBED_CHECK(n_sections > 0, InvalidArgument, "match_genes needs at least one section, got none");
  SPATIALEMBED_CHECK(ids.empty() || ids.size() == n_sections, InvalidArgument,
                     "ids must be empty or hold one list per section ({}), got {} lists", n_sections, ids.size());
  auto has_ids = [&](std::size_t s) { return !ids.empty() && !ids[s].empty(); };
  for (std::size_t s = 0; s < n_sections; ++s) {
    SPATIALEMBED_CHECK(!has_ids(s) || ids[s].size() == names[s].size(), InvalidArgument,
                       "section {}: {} ids for {} gene names; expected one id per name (or none)", s, ids[s].size(),
                       names[s].size());
    for (std::size_t j = 0; j < names[s].size(); ++j) {
      SPATIALEMBED_CHECK(!names[s][j].empty(), InvalidArgument, "section {}: gene {} has an empty name", s, j);
    }
  }

  // Names that occur more than once in some section are matched by (name, id) everywhere.
  std::unordered_map<std::string, std::size_t> repeated;  // name → the first section where it repeats
  for (std::size_t s = 0; s < n_sections; ++s) {
    std::unordered_set<std::string> seen;
    for (const auto& name : names[s]) {
      if (!seen.insert(name).second) repeated.emplace(name, s);
    }
  }

  // Per section: key → column; a repeated name needs distinct ids in every section that has it.
  std::vector<std::unordered_map<std::string, std::int32_t>> column_of(n_sections);
  for (std::size_t s = 0; s < n_sections; ++s) {
    auto& map = column_of[s];
    map.reserve(names[s].size());
    for (std::size_t j = 0; j < names[s].size(); ++j) {
      const std::string& name = names[s][j];
      const auto rep = repeated.find(name);
      const bool by_id = rep != repeated.end();
      SPATIALEMBED_CHECK(!by_id || has_ids(s), InvalidArgument,
                         "gene name '{}' repeats in section {}, so it is matched by id, but section {} gives no ids; "
                         "pass ids (e.g. Ensembl ids) for every section",
                         name, by_id ? rep->second : 0, s);
      const std::string& id = has_ids(s) ? ids[s][j] : std::string();
      const auto inserted = map.emplace(key_of(name, id, by_id), static_cast<std::int32_t>(j));
      SPATIALEMBED_CHECK(inserted.second, InvalidArgument,
                         "section {}: gene name '{}' appears in columns {} and {} with the same id '{}'; duplicated "
                         "names need distinct ids",
                         s, name, inserted.first->second, j, id);
    }
  }

  // Genes of the first section present everywhere, in its order; name the section that
  // empties the intersection.
  std::vector<std::size_t> shared;  // columns of section 0
  for (std::size_t j = 0; j < names[0].size(); ++j) shared.push_back(j);
  SPATIALEMBED_CHECK(!shared.empty(), InvalidArgument, "no gene is shared: section 0 has no genes");
  std::vector<std::string> keys(names[0].size());
  for (std::size_t j = 0; j < names[0].size(); ++j) {
    keys[j] = key_of(names[0][j], has_ids(0) ? ids[0][j] : std::string(), repeated.count(names[0][j]) > 0);
  }
  for (std::size_t s = 1; s < n_sections; ++s) {
    std::vector<std::size_t> kept;
    for (const std::size_t j : shared) {
      if (column_of[s].count(keys[j]) > 0) kept.push_back(j);
    }
    SPATIALEMBED_CHECK(!kept.empty(), InvalidArgument,
                       "no gene is shared: section {} ({} genes) has none of the {} genes shared by sections 0 … {}", s,
                       names[s].size(), shared.size(), s - 1);
    shared.swap(kept);
  }

  GeneMatch out;
  out.names.reserve(shared.size());
  out.ids.reserve(shared.size());
  out.columns.assign(n_sections, std::vector<std::int32_t>());
  for (auto& c : out.columns) c.reserve(shared.size());
  for (const std::size_t j : shared) {
    out.names.push_back(names[0][j]);
    out.ids.push_back(has_ids(0) ? ids[0][j] : std::string());
    for (std::size_t s = 0; s < n_sections; ++s) out.columns[s].push_back(column_of[s].at(keys[j]));
  }
  return out;
}

}  // namespace spatialembed
