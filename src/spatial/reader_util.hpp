#pragma once
// Steps shared by the spatial readers. Internal.

#include <filesystem>
#include <string>

#include "spatialembed/spatial/section.hpp"

namespace spatialembed::detail {

/// `path` as a string when it is a regular file; otherwise IOError naming it and `what` it is.
std::string existing_file(const std::filesystem::path& path, const char* what);

/// An empty section named `name` with its layout and source files set.
Section new_section(const std::string& name, const char* layout, const std::string& spots_path,
                    const std::string& counts_path, const std::string& image_path);

/// The last steps of the text-table layouts: reads `section.provenance.counts_path` (a spots ×
/// genes table, see `read_count_table`), pairs its rows with the spots by id and finishes.
void add_count_table_and_finish(Section& section, char delimiter);

/// Drops the spots whose in_tissue flag is 0.
void keep_in_tissue(Spots& spots);

/// The last step of every reader: gene names (or ids, when given) must be distinct, the image
/// must cover the spots, and the section must pass `Section::validate()`.
void finish_section(Section& section);

}  // namespace spatialembed::detail
