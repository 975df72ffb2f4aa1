#pragma once
/// @file
/// `ImzMLWriter`: writes imzML 1.1 (continuous or processed), streaming the .ibd.

#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "spatialembed/common/matrix_view.hpp"
#include "spatialembed/msi/imzml_reader.hpp"

namespace spatialembed {

/// Options of `ImzMLWriter`. `validate()` is the one place they are checked.
struct ImzMLWriterOptions {
  ImzMLMode mode = ImzMLMode::processed;                ///< continuous: one shared m/z array
  BinaryDataType mz_type = BinaryDataType::float64;     ///< float32 or float64
  BinaryDataType intensity_type = BinaryDataType::float32;  ///< any; integers must be exact
  bool centroid = false;           ///< spectra are centroided (MS:1000127), else profile (MS:1000128)
  double pixel_size_x = std::numeric_limits<double>::quiet_NaN();  ///< µm; NaN = not written
  double pixel_size_y = std::numeric_limits<double>::quiet_NaN();  ///< µm; NaN = same as x
  std::string uuid;                ///< 32 hex digits; empty = random (std::random_device)

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
};

/// Writes `<path>` (XML) and the .ibd next to it (same stem), spectrum by spectrum: the .ibd
/// is streamed (memory holds only the per-spectrum index), its SHA-1 is computed on the fly,
/// and the XML is written by `close()`. Files written are read back by `ImzMLReader`, by R
/// MALDIquantForeign and by the imzML examples' conventions (UUID at .ibd offset 0).
class ImzMLWriter {
 public:
  /// Creates (truncates) the files. Throws InvalidArgument for invalid options or a path not
  /// ending in .imzML, IOError when the .ibd cannot be created.
  explicit ImzMLWriter(const std::string& imzml_path, ImzMLWriterOptions options = {});
  /// Closes the files if `close()` was not called (errors are then swallowed: call close()).
  ~ImzMLWriter();
  ImzMLWriter(const ImzMLWriter&) = delete;
  ImzMLWriter& operator=(const ImzMLWriter&) = delete;

  /// Appends one spectrum (float64 m/z, increasing, and as many intensities).
  /// Continuous mode: the first spectrum's m/z array is the shared one; later spectra must
  /// pass equal m/z values (or an empty `mz`). Throws InvalidArgument for mismatched
  /// lengths, decreasing or non-finite m/z, a coordinate < 1, a duplicate coordinate, an
  /// intensity not representable in an integer type, or after close(); IOError on write failure.
  void add_spectrum(PixelCoordinate coordinate, VectorView<const double> mz, VectorView<const double> intensities);

  /// Writes the XML and closes both files. Throws InvalidArgument when no spectrum was added,
  /// IOError on write failure. Idempotent.
  void close();

  std::size_t size() const;              ///< spectra added so far
  const std::string& uuid() const;       ///< the UUID (32 lower-case hex digits)
  const std::string& ibd_path() const;   ///< the .ibd file

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spatialembed
