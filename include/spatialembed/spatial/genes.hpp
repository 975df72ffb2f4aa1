#pragma once
/// @file
/// Matching genes across spatial-transcriptomics sections by name (by id where a name
/// repeats), never by position.

#include <cstdint>
#include <string>
#include <vector>

namespace spatialembed {

/// The genes every section has, and where each section keeps them.
struct GeneMatch {
  std::vector<std::string> names;                  ///< the shared genes, in the first section's column order
  std::vector<std::string> ids;                    ///< their ids as the first section gives them ("" where it gives none)
  std::vector<std::vector<std::int32_t>> columns;  ///< columns[s][k]: the column of shared gene k in section s
};

/// Matches genes across sections.
///
/// `names[s]` lists section s's gene names (one per column); `ids` is empty (no ids) or has
/// one list per section, each either empty (no ids for that section) or one id per name
/// (e.g. Visium's Ensembl ids). A name that occurs once in every section that has it is
/// matched by name alone (its ids, if any, are not compared). A name that occurs more than
/// once in some section (Visium features share a few names between distinct Ensembl ids) is
/// matched by (name, id) in every section that has it, so those sections must give ids and
/// the ids must tell the copies apart.
///
/// Returns the genes present in every section, in the first section's order, with each
/// section's column of each. Throws InvalidArgument when there are no sections, a list's
/// length disagrees with its section's names, a name is empty, a name repeats in a section
/// without distinct ids (naming the gene, the section and the columns), or no gene is shared
/// (naming the first section that shares none with those before it).
GeneMatch match_genes(const std::vector<std::vector<std::string>>& names,
                      const std::vector<std::vector<std::string>>& ids = {});

}  // namespace spatialembed
