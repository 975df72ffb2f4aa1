#pragma once
/// @file
/// `ImzMLReader`: the imzML 1.1 mass spectrometry imaging format (an mzML XML file plus a
/// binary .ibd file), continuous and processed mode.
///
/// The XML is parsed once, with pugixml, into a compact index (coordinates, byte offsets,
/// lengths and types of each spectrum's arrays) and then released; the .ibd is never read
/// whole: arrays are read on demand with positioned reads (`pread`), so any number of
/// threads can read spectra concurrently from one reader. Reference: imzML 1.1.0
/// specification (Schramm et al., J Proteomics 75:5106, 2012) and the IMS / PSI-MS
/// controlled vocabularies.

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace spatialembed {

/// How the m/z values are stored.
enum class ImzMLMode {
  continuous,  ///< IMS:1000030 — one m/z array shared by every spectrum
  processed,   ///< IMS:1000031 — each spectrum has its own m/z array
};

/// Element type of a binary array in the .ibd (always little-endian).
enum class BinaryDataType {
  float32,  ///< MS:1000521
  float64,  ///< MS:1000523
  int32,    ///< MS:1000519 (or IMS:1000141)
  int64,    ///< MS:1000522 (or IMS:1000142)
};

/// Bytes per element of `type`.
std::size_t byte_size(BinaryDataType type);
/// "float32", "float64", "int32" or "int64".
const char* to_string(BinaryDataType type);
/// Parses the names `to_string` gives; throws InvalidArgument otherwise.
BinaryDataType parse_binary_data_type(const std::string& name);
/// "continuous" or "processed".
const char* to_string(ImzMLMode mode);
/// Parses "continuous" or "processed"; throws InvalidArgument otherwise.
ImzMLMode parse_imzml_mode(const std::string& name);

/// Where one binary array of one spectrum lies in the .ibd.
struct BinaryArrayRef {
  std::uint64_t offset = 0;          ///< byte offset in the .ibd (IMS:1000102)
  std::uint64_t length = 0;          ///< number of values (IMS:1000103)
  std::uint64_t encoded_length = 0;  ///< bytes in the .ibd (IMS:1000104)
  BinaryDataType type = BinaryDataType::float32;  ///< element type
  bool zlib = false;                 ///< zlib-compressed (MS:1000574); read transparently
};

/// A pixel position, 1-based as in the file (IMS:1000050/51/52); z is 1 when absent.
struct PixelCoordinate {
  std::int32_t x = 1;
  std::int32_t y = 1;
  std::int32_t z = 1;
};

/// The index entry of one spectrum.
struct SpectrumRef {
  PixelCoordinate coordinate;  ///< its pixel
  BinaryArrayRef mz;           ///< its m/z array (the shared one in continuous mode)
  BinaryArrayRef intensity;    ///< its intensity array, as many values as `mz`
  /// The total ion current the file states (MS:1000285, whatever the writer's definition:
  /// R MALDIquant writes the trapezoid integral over m/z); NaN when absent.
  double stored_tic = std::numeric_limits<double>::quiet_NaN();
};

/// File-level metadata.
struct ImzMLMetadata {
  ImzMLMode mode = ImzMLMode::processed;  ///< declared mode (inferred when the file omits it)
  std::string uuid;          ///< IMS:1000080, 32 lower-case hex digits; empty when absent
  std::string sha1;          ///< IMS:1000091, lower-case hex; empty when absent
  std::string md5;           ///< IMS:1000090, lower-case hex; empty when absent
  std::int64_t max_count_x = 0;  ///< IMS:1000042 "max count of pixels x"; 0 when absent
  std::int64_t max_count_y = 0;  ///< IMS:1000043; 0 when absent
  double pixel_size_x = std::numeric_limits<double>::quiet_NaN();  ///< IMS:1000046, µm; NaN when absent
  double pixel_size_y = std::numeric_limits<double>::quiet_NaN();  ///< IMS:1000047, µm; NaN when absent (then = x)
};

/// Options of `ImzMLReader`. `validate()` is the one place they are checked.
struct ImzMLOptions {
  std::string ibd_path;          ///< the binary file; empty = the .imzML path with extension .ibd
  bool check_uuid = true;        ///< compare the XML's UUID with the .ibd's first 16 bytes
  bool verify_checksum = false;  ///< hash the whole .ibd at open and compare with the XML's SHA-1 / MD5

  /// Throws InvalidArgument naming the field (nothing can be invalid yet; kept for symmetry).
  void validate() const;
};

/// An open imzML dataset. Read-only and thread-safe: every const member may be called from
/// many threads at once.
///
/// Errors at open: IOError when the .imzML or .ibd cannot be opened or read; FormatError
/// (naming the file, and the spectrum index and XML byte offset, or the .ibd byte offset)
/// for malformed XML, a missing or unknown data-type or compression accession, a negative,
/// non-integer or overflowing offset or length, an array past the end of the .ibd, m/z and
/// intensity arrays of different lengths, a missing coordinate, duplicate coordinates, a UUID
/// mismatch, a checksum mismatch (when asked), a continuous file whose spectra do not share
/// one m/z array, or a file without spectra. Spectra with zero values are allowed (a pixel
/// where a centroided spectrum has no peak). The .imzML or .ibd path naming a folder is an
/// IOError that says so.
///
/// Errors at read (every read: `read_raw`, `read_array`, and through them the mean spectrum,
/// TIC and ion-image extraction): NaN or infinite values in a float array are rejected, not
/// masked, with a FormatError naming the file, the spectrum index, its pixel (x, y), whether
/// it is the m/z or the intensity array, and the value's byte offset in the .ibd.
class ImzMLReader {
 public:
  explicit ImzMLReader(const std::string& imzml_path, ImzMLOptions options = {});
  ~ImzMLReader();
  ImzMLReader(ImzMLReader&&) noexcept;
  ImzMLReader& operator=(ImzMLReader&&) noexcept;
  ImzMLReader(const ImzMLReader&) = delete;
  ImzMLReader& operator=(const ImzMLReader&) = delete;

  const std::string& path() const;       ///< the .imzML file
  const std::string& ibd_path() const;   ///< the .ibd file
  std::uint64_t ibd_size() const;        ///< bytes in the .ibd
  const ImzMLMetadata& metadata() const;
  ImzMLMode mode() const { return metadata().mode; }
  std::size_t size() const;              ///< number of spectra (pixels)
  const std::vector<SpectrumRef>& spectra() const;  ///< the index, in file order
  const SpectrumRef& spectrum(std::size_t i) const;  ///< throws InvalidArgument if i ≥ size()
  PixelCoordinate coordinate(std::size_t i) const { return spectrum(i).coordinate; }

  /// Reads spectrum i's m/z values (converted to float64) into `out` (resized).
  /// Throws InvalidArgument for i ≥ size(), IOError / FormatError for a read or inflate failure.
  void read_mz(std::size_t i, std::vector<double>& out) const;
  /// Reads spectrum i's intensities (converted to float64) into `out` (resized).
  void read_intensities(std::size_t i, std::vector<double>& out) const;
  /// Reads any array of this file, converted to float64; `scratch` holds compressed bytes.
  void read_array(const BinaryArrayRef& array, std::vector<double>& out, std::vector<char>& scratch) const;
  /// Reads the raw little-endian values of `array` (inflated when zlib-compressed) into `out`,
  /// which must hold `array.length · byte_size(array.type)` bytes; `scratch` holds compressed
  /// bytes. The fast path of ion-image extraction: no conversion, no allocation once warm.
  void read_raw(const BinaryArrayRef& array, void* out, std::vector<char>& scratch) const;

  /// Total ion current of spectrum i: the plain sum of its intensities (as pyimzML users and
  /// Cardinal compute it), in float64. Reads the spectrum.
  double tic(std::size_t i) const;
  /// The smallest and largest m/z over all spectra (reads every m/z array in processed mode,
  /// the shared one in continuous mode). {NaN, NaN} when every spectrum is empty.
  std::pair<double, double> mz_range() const;

  /// Hashes the .ibd (SHA-1 if the XML gives one, else MD5) and compares; throws FormatError
  /// on a mismatch, InvalidArgument when the XML gives neither.
  void verify_checksum() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spatialembed
