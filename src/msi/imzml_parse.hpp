#pragma once
// The XML half of the imzML reader, separate from any file so that it can be fuzzed:
// parse the mzML text into the spectrum index, then check the index against the .ibd size.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "spatialembed/msi/imzml_reader.hpp"

namespace spatialembed::msi_detail {

struct ParsedImzML {
  ImzMLMetadata metadata;
  std::vector<SpectrumRef> spectra;
};

/// Parses imzML XML text (`size` bytes; need not be NUL-terminated). `name` is the file name
/// used in error messages. Throws FormatError for anything that breaks the format.
ParsedImzML parse_imzml_xml(const char* text, std::size_t size, const std::string& name);

/// Checks every array against the .ibd size (offset + encoded length within the file, offset
/// past the 16-byte UUID), and that coordinates are unique. Throws FormatError naming
/// `ibd_name`, the spectrum and the byte offset.
void check_index(const ParsedImzML& parsed, std::uint64_t ibd_size, const std::string& name,
                 const std::string& ibd_name);

/// UUID text as 32 lower-case hex digits (braces and dashes dropped); throws FormatError.
std::string normalize_uuid(const std::string& text, const std::string& name);

/// Converts `count` little-endian values of `type` at `bytes` to double.
void decode_to_double(const char* bytes, std::size_t count, BinaryDataType type, double* out);

/// Inflates zlib data (`in`, `in_size` bytes) into exactly `out_size` bytes at `out`;
/// throws FormatError naming `what` when the stream is corrupt or of another size.
void inflate_exact(const char* in, std::size_t in_size, char* out, std::size_t out_size, const std::string& what);

}  // namespace spatialembed::msi_detail
