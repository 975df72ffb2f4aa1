#include "spatialembed/msi/imzml_writer.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <tuple>

#include "msi/imzml_parse.hpp"
#include "msi/imzml_vocabulary.hpp"
#include "spatialembed/common/error.hpp"

namespace spatialembed {

namespace cv = msi_detail::cv;  // the controlled-vocabulary terms, shared with the parser

void ImzMLWriterOptions::validate() const {
  SPATIALEMBED_CHECK(mz_type == BinaryDataType::float32 || mz_type == BinaryDataType::float64, InvalidArgument,
                     "mz_type must be float32 or float64, got {}", to_string(mz_type));
  SPATIALEMBED_CHECK(std::isnan(pixel_size_x) || (std::isfinite(pixel_size_x) && pixel_size_x > 0), InvalidArgument,
                     "pixel_size_x must be > 0 µm (or NaN = unknown), got {}", pixel_size_x);
  SPATIALEMBED_CHECK(std::isnan(pixel_size_y) || (std::isfinite(pixel_size_y) && pixel_size_y > 0), InvalidArgument,
                     "pixel_size_y must be > 0 µm (or NaN = same as x), got {}", pixel_size_y);
  if (!uuid.empty()) {
    try {
      (void)msi_detail::normalize_uuid(uuid, "ImzMLWriterOptions");
    } catch (const FormatError&) {
      throw InvalidArgument(fmt::format("uuid must be 32 hex digits (dashes and braces allowed), got \"{}\"", uuid));
    }
  }
}

namespace {

struct Entry {
  PixelCoordinate coordinate;
  BinaryArrayRef mz, intensity;
  double tic = 0, lowest = 0, highest = 0;
};

// One line `<cvParam cvRef=.. accession=.. name=.. value=../>` indented by `indent` spaces, with
// the unit's attributes when given; terms from the table the parser uses too.
template <class Value = const char*>
std::string cv_param(int indent, const cv::Term& term, const Value& value = "", const cv::Term* unit = nullptr) {
  std::string line = fmt::format(R"({:{}}<cvParam cvRef="{}" accession="{}" name="{}" value="{}")", "", indent, term.ref,
                                 term.accession, term.name, value);
  if (unit) line += fmt::format(R"( unitCvRef="{}" unitAccession="{}" unitName="{}")", unit->ref, unit->accession, unit->name);
  return line + "/>\n";
}

// A referenceableParamGroup for one binary array: what it holds, uncompressed, its data
// type, stored externally in the .ibd.
std::string array_param_group(const char* id, const cv::Term& array, const cv::Term& unit, BinaryDataType type) {
  return fmt::format("    <referenceableParamGroup id=\"{}\">\n", id) + cv_param(6, array, "", &unit) +
         cv_param(6, cv::kNoCompression) + cv_param(6, cv::data_type_term(type)) + cv_param(6, cv::kExternalData, "true") +
         "    </referenceableParamGroup>\n";
}

}  // namespace

struct ImzMLWriter::Impl {
  std::string path, ibd_path, uuid;
  ImzMLWriterOptions options;
  std::FILE* ibd = nullptr;
  std::uint64_t offset = 0;
  EVP_MD_CTX* sha1 = nullptr;
  std::vector<Entry> entries;
  std::set<std::tuple<std::int32_t, std::int32_t, std::int32_t>> coordinates;
  std::vector<double> shared_mz;  // continuous: the first spectrum's m/z, as stored
  BinaryArrayRef shared_ref;
  std::vector<char> buffer;
  bool closed = false;

  void write(const void* data, std::size_t n) {
    SPATIALEMBED_CHECK(std::fwrite(data, 1, n, ibd) == n, IOError, "{}: write failed at byte offset {}: {}", ibd_path,
                       offset, std::strerror(errno));
    EVP_DigestUpdate(sha1, data, n);
    offset += n;
  }

  // Converts `values` to `type` (checking integers) and appends them to the .ibd.
  BinaryArrayRef append(VectorView<const double> values, BinaryDataType type, const char* what) {
    BinaryArrayRef ref;
    ref.offset = offset;
    ref.length = values.size();
    ref.type = type;
    ref.encoded_length = values.size() * byte_size(type);
    buffer.resize(static_cast<std::size_t>(ref.encoded_length));
    char* out = buffer.data();
    for (std::size_t i = 0; i < values.size(); ++i) {
      const double v = values[i];
      switch (type) {
        case BinaryDataType::float32: {
          const auto f = static_cast<float>(v);
          std::memcpy(out + 4 * i, &f, 4);
          break;
        }
        case BinaryDataType::float64: std::memcpy(out + 8 * i, &v, 8); break;
        case BinaryDataType::int32: {
          SPATIALEMBED_CHECK(v == std::round(v) && v >= -2147483648.0 && v <= 2147483647.0, InvalidArgument,
                             "{}[{}] = {} is not an int32", what, i, v);
          const auto x = static_cast<std::int32_t>(v);
          std::memcpy(out + 4 * i, &x, 4);
          break;
        }
        case BinaryDataType::int64: {
          SPATIALEMBED_CHECK(v == std::round(v) && std::abs(v) < 9.2e18, InvalidArgument, "{}[{}] = {} is not an int64",
                             what, i, v);
          const auto x = static_cast<std::int64_t>(v);
          std::memcpy(out + 8 * i, &x, 8);
          break;
        }
      }
    }
    write(buffer.data(), buffer.size());
    return ref;
  }

  void release() {
    if (ibd) std::fclose(ibd);
    ibd = nullptr;
    if (sha1) EVP_MD_CTX_free(sha1);
    sha1 = nullptr;
  }
};

ImzMLWriter::ImzMLWriter(const std::string& imzml_path, ImzMLWriterOptions options) : impl_(std::make_unique<Impl>()) {
  options.validate();
  auto& d = *impl_;
  d.options = options;
  d.path = imzml_path;
  const auto dot = imzml_path.find_last_of('.');
  std::string ext = dot == std::string::npos ? "" : imzml_path.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  SPATIALEMBED_CHECK(ext == ".imzml", InvalidArgument, "the output path must end in .imzML, got {}", imzml_path);
  d.ibd_path = imzml_path.substr(0, dot) + ".ibd";
  if (options.uuid.empty()) {
    std::random_device random;
    for (int i = 0; i < 4; ++i) d.uuid += fmt::format("{:08x}", random());
  } else {
    d.uuid = msi_detail::normalize_uuid(options.uuid, "uuid");
  }
  d.ibd = std::fopen(d.ibd_path.c_str(), "wb");
  SPATIALEMBED_CHECK(d.ibd, IOError, "{}: cannot create: {}", d.ibd_path, std::strerror(errno));
  std::setvbuf(d.ibd, nullptr, _IOFBF, 1 << 20);
  d.sha1 = EVP_MD_CTX_new();
  if (!d.sha1 || EVP_DigestInit_ex(d.sha1, EVP_sha1(), nullptr) != 1) {
    d.release();
    throw Error("OpenSSL SHA-1 initialisation failed");
  }
  unsigned char bytes[16];
  for (int i = 0; i < 16; ++i) bytes[i] = static_cast<unsigned char>(std::stoi(d.uuid.substr(2 * i, 2), nullptr, 16));
  d.write(bytes, 16);
}

ImzMLWriter::~ImzMLWriter() {
  if (!impl_) return;
  try {
    if (!impl_->closed && !impl_->entries.empty()) close();
  } catch (...) {
  }
  impl_->release();
}

std::size_t ImzMLWriter::size() const { return impl_->entries.size(); }
const std::string& ImzMLWriter::uuid() const { return impl_->uuid; }
const std::string& ImzMLWriter::ibd_path() const { return impl_->ibd_path; }

void ImzMLWriter::add_spectrum(PixelCoordinate coordinate, VectorView<const double> mz, VectorView<const double> intensities) {
  auto& d = *impl_;
  SPATIALEMBED_CHECK(!d.closed, InvalidArgument, "{}: add_spectrum after close()", d.path);
  SPATIALEMBED_CHECK(coordinate.x >= 1 && coordinate.y >= 1 && coordinate.z >= 1, InvalidArgument,
                     "pixel coordinates are 1-based, got (x={}, y={}, z={})", coordinate.x, coordinate.y, coordinate.z);
  SPATIALEMBED_CHECK(d.coordinates.insert({coordinate.x, coordinate.y, coordinate.z}).second, InvalidArgument,
                     "duplicate pixel coordinate (x={}, y={}, z={})", coordinate.x, coordinate.y, coordinate.z);
  const bool continuous = d.options.mode == ImzMLMode::continuous;
  const bool reuse = continuous && !d.entries.empty();
  if (!(reuse && mz.empty())) {
    SPATIALEMBED_CHECK(mz.size() == intensities.size(), InvalidArgument,
                       "spectrum {}: {} m/z values but {} intensities", d.entries.size(), mz.size(), intensities.size());
    for (std::size_t i = 0; i < mz.size(); ++i) {
      SPATIALEMBED_CHECK(std::isfinite(mz[i]) && (i == 0 || mz[i] >= mz[i - 1]), InvalidArgument,
                         "spectrum {}: m/z must be finite and increasing, got mz[{}] = {}", d.entries.size(), i, mz[i]);
    }
  }
  Entry e;
  e.coordinate = coordinate;
  if (reuse) {
    SPATIALEMBED_CHECK(intensities.size() == d.shared_mz.size(), InvalidArgument,
                       "continuous mode: spectrum {} has {} intensities, the shared m/z array {} values",
                       d.entries.size(), intensities.size(), d.shared_mz.size());
    for (std::size_t i = 0; i < mz.size(); ++i) {
      const double stored = d.options.mz_type == BinaryDataType::float32 ? static_cast<float>(mz[i]) : mz[i];
      SPATIALEMBED_CHECK(stored == d.shared_mz[i], InvalidArgument,
                         "continuous mode: spectrum {}'s mz[{}] = {} differs from the shared m/z array ({})",
                         d.entries.size(), i, mz[i], d.shared_mz[i]);
    }
    e.mz = d.shared_ref;
  } else {
    e.mz = d.append(mz, d.options.mz_type, "mz");
    if (continuous) {
      d.shared_ref = e.mz;
      for (double v : mz) d.shared_mz.push_back(d.options.mz_type == BinaryDataType::float32 ? static_cast<float>(v) : v);
    }
  }
  e.intensity = d.append(intensities, d.options.intensity_type, "intensities");
  for (double v : intensities) e.tic += v;
  const auto& axis = reuse ? VectorView<const double>(d.shared_mz) : mz;
  if (!axis.empty()) e.lowest = axis[0], e.highest = axis[axis.size() - 1];
  d.entries.push_back(e);
}

void ImzMLWriter::close() {
  auto& d = *impl_;
  if (d.closed) return;
  SPATIALEMBED_CHECK(!d.entries.empty(), InvalidArgument, "{}: no spectrum was added", d.path);
  SPATIALEMBED_CHECK(std::fflush(d.ibd) == 0, IOError, "{}: write failed: {}", d.ibd_path, std::strerror(errno));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  EVP_DigestFinal_ex(d.sha1, digest, &digest_length);
  std::string sha1;
  for (unsigned int i = 0; i < digest_length; ++i) sha1 += fmt::format("{:02x}", digest[i]);
  const int ibd_closed = std::fclose(d.ibd);
  d.ibd = nullptr;
  SPATIALEMBED_CHECK(ibd_closed == 0, IOError, "{}: close failed: {}", d.ibd_path, std::strerror(errno));

  std::int32_t max_x = 0, max_y = 0;
  for (const auto& e : d.entries) max_x = std::max(max_x, e.coordinate.x), max_y = std::max(max_y, e.coordinate.y);
  const auto& o = d.options;
  const cv::Term& spectrum_type = o.centroid ? cv::kCentroidSpectrum : cv::kProfileSpectrum;
  // The XML is written in chunks of about 1 MiB, so memory stays at the index (~100 bytes a
  // spectrum) rather than the whole XML (~2 KB a spectrum).
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> xml(std::fopen(d.path.c_str(), "wb"), &std::fclose);
  SPATIALEMBED_CHECK(xml, IOError, "{}: cannot create: {}", d.path, std::strerror(errno));
  std::string x;
  x.reserve(std::size_t{1} << 21);
  auto flush = [&] {
    SPATIALEMBED_CHECK(std::fwrite(x.data(), 1, x.size(), xml.get()) == x.size(), IOError, "{}: write failed: {}", d.path,
                       std::strerror(errno));
    x.clear();
  };
  x += R"(<?xml version="1.0" encoding="UTF-8"?>
<mzML xmlns="http://psi.hupo.org/ms/mzml" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://psi.hupo.org/ms/mzml http://psidev.info/files/ms/mzML/xsd/mzML1.1.0.xsd" version="1.1">
  <cvList count="3">
    <cv id="MS" fullName="Proteomics Standards Initiative Mass Spectrometry Ontology" version="4.1.0" URI="https://raw.githubusercontent.com/HUPO-PSI/psi-ms-CV/master/psi-ms.obo"/>
    <cv id="UO" fullName="Unit Ontology" version="releases/2020-03-10" URI="http://ontologies.berkeleybop.org/uo.obo"/>
    <cv id="IMS" fullName="Imaging MS Ontology" version="1.1.0" URI="https://raw.githubusercontent.com/imzML/imzML/master/imagingMS.obo"/>
  </cvList>
  <fileDescription>
    <fileContent>
)";
  x += cv_param(6, cv::kMs1Spectrum);
  x += cv_param(6, spectrum_type);
  x += cv_param(6, cv::kUuid, fmt::format("{{{}-{}-{}-{}-{}}}", d.uuid.substr(0, 8), d.uuid.substr(8, 4),
                                          d.uuid.substr(12, 4), d.uuid.substr(16, 4), d.uuid.substr(20)));
  x += cv_param(6, cv::kSha1, sha1);
  x += cv_param(6, o.mode == ImzMLMode::continuous ? cv::kContinuous : cv::kProcessed);
  x += R"(    </fileContent>
  </fileDescription>
  <referenceableParamGroupList count="2">
)";
  x += array_param_group("mzArray", cv::kMzArray, cv::kUnitMz, o.mz_type);
  x += array_param_group("intensityArray", cv::kIntensityArray, cv::kUnitDetectorCounts, o.intensity_type);
  x += R"(  </referenceableParamGroupList>
  <softwareList count="1">
    <software id="spatialembed" version=")";
  x += SPATIALEMBED_VERSION_STRING;
  x += "\">\n";
  x += cv_param(6, cv::kCustomSoftware, "spatialembed");
  x += R"(    </software>
  </softwareList>
  <scanSettingsList count="1">
    <scanSettings id="scansettings1">
)";
  x += cv_param(6, cv::kMaxCountX, max_x);
  x += cv_param(6, cv::kMaxCountY, max_y);
  if (!std::isnan(o.pixel_size_x)) {
    const double py = std::isnan(o.pixel_size_y) ? o.pixel_size_x : o.pixel_size_y;
    x += cv_param(6, cv::kPixelSizeX, o.pixel_size_x, &cv::kUnitMicrometer);
    x += cv_param(6, cv::kPixelSizeY, py, &cv::kUnitMicrometer);
  }
  x += R"(    </scanSettings>
  </scanSettingsList>
  <instrumentConfigurationList count="1">
    <instrumentConfiguration id="IC1"/>
  </instrumentConfigurationList>
  <dataProcessingList count="1">
    <dataProcessing id="export_from_spatialembed">
      <processingMethod order="1" softwareRef="spatialembed">
)";
  x += cv_param(8, cv::kConversionToMzml);
  x += R"(      </processingMethod>
    </dataProcessing>
  </dataProcessingList>
  <run defaultInstrumentConfigurationRef="IC1" id="spatialembed_run">
)";
  x += fmt::format("    <spectrumList count=\"{}\" defaultDataProcessingRef=\"export_from_spatialembed\">\n", d.entries.size());
  auto array_xml = [&](const char* group, const BinaryArrayRef& a) {
    x += fmt::format("          <binaryDataArray encodedLength=\"0\">\n"
                     "            <referenceableParamGroupRef ref=\"{}\"/>\n",
                     group);
    x += cv_param(12, cv::kExternalLength, a.length);
    x += cv_param(12, cv::kExternalEncodedLength, a.encoded_length);
    x += cv_param(12, cv::kExternalOffset, a.offset);
    x += "            <binary/>\n          </binaryDataArray>\n";
  };
  for (std::size_t i = 0; i < d.entries.size(); ++i) {
    const auto& e = d.entries[i];
    x += fmt::format("      <spectrum defaultArrayLength=\"0\" id=\"spectrum={}\" index=\"{}\">\n", i + 1, i);
    x += cv_param(8, cv::kMsLevel, 1);
    x += cv_param(8, cv::kMs1Spectrum);
    x += cv_param(8, spectrum_type);
    x += cv_param(8, cv::kTic, e.tic);
    if (e.intensity.length > 0) {
      x += cv_param(8, cv::kLowestMz, e.lowest, &cv::kUnitMz);
      x += cv_param(8, cv::kHighestMz, e.highest, &cv::kUnitMz);
    }
    x += "        <scanList count=\"1\">\n";
    x += cv_param(10, cv::kNoCombination);
    x += "          <scan instrumentConfigurationRef=\"IC1\">\n";
    x += cv_param(12, cv::kPositionX, e.coordinate.x);
    x += cv_param(12, cv::kPositionY, e.coordinate.y);
    if (e.coordinate.z != 1) x += cv_param(12, cv::kPositionZ, e.coordinate.z);
    x += "          </scan>\n        </scanList>\n        <binaryDataArrayList count=\"2\">\n";
    array_xml("mzArray", e.mz);
    array_xml("intensityArray", e.intensity);
    x += "        </binaryDataArrayList>\n      </spectrum>\n";
    if (x.size() >= (std::size_t{1} << 20)) flush();
  }
  x += "    </spectrumList>\n  </run>\n</mzML>\n";

  flush();
  const bool xml_closed = std::fclose(xml.release()) == 0;
  SPATIALEMBED_CHECK(xml_closed, IOError, "{}: write failed: {}", d.path, std::strerror(errno));
  d.closed = true;
  d.release();
}

}  // namespace spatialembed
