#include "spatialembed/msi/imzml_reader.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "msi/imzml_parse.hpp"
#include "spatialembed/common/error.hpp"

namespace spatialembed {

std::size_t byte_size(BinaryDataType type) {
  return type == BinaryDataType::float32 || type == BinaryDataType::int32 ? 4 : 8;
}

const char* to_string(BinaryDataType type) {
  switch (type) {
    case BinaryDataType::float32: return "float32";
    case BinaryDataType::float64: return "float64";
    case BinaryDataType::int32: return "int32";
    case BinaryDataType::int64: return "int64";
  }
  return "?";
}

BinaryDataType parse_binary_data_type(const std::string& name) {
  for (auto t : {BinaryDataType::float32, BinaryDataType::float64, BinaryDataType::int32, BinaryDataType::int64}) {
    if (name == to_string(t)) return t;
  }
  throw InvalidArgument(fmt::format("data type must be float32, float64, int32 or int64, got \"{}\"", name));
}

const char* to_string(ImzMLMode mode) { return mode == ImzMLMode::continuous ? "continuous" : "processed"; }

ImzMLMode parse_imzml_mode(const std::string& name) {
  if (name == "continuous") return ImzMLMode::continuous;
  if (name == "processed") return ImzMLMode::processed;
  throw InvalidArgument(fmt::format("mode must be \"continuous\" or \"processed\", got \"{}\"", name));
}

void ImzMLOptions::validate() const {}

namespace {

std::string default_ibd_path(const std::string& imzml) {
  const auto slash = imzml.find_last_of('/');
  const auto dot = imzml.find_last_of('.');
  const std::string stem = dot == std::string::npos || (slash != std::string::npos && dot < slash) ? imzml : imzml.substr(0, dot);
  const std::string lower = stem + ".ibd";
  struct stat st {};
  if (::stat(lower.c_str(), &st) != 0 && ::stat((stem + ".IBD").c_str(), &st) == 0) return stem + ".IBD";
  return lower;
}

std::string read_text_file(const std::string& path) {
  struct stat st {};
  SPATIALEMBED_CHECK(::stat(path.c_str(), &st) == 0, IOError, "{}: cannot open the imzML file: {}", path,
                     std::strerror(errno));
  SPATIALEMBED_CHECK(!S_ISDIR(st.st_mode), IOError,
                     "{}: is a folder, not an .imzML file (a folder of PNG ion images is read with "
                     "IonImageStack.from_png_dir, C++ read_png_stack)",
                     path);
  SPATIALEMBED_CHECK(S_ISREG(st.st_mode), IOError, "{}: is not a regular file", path);
  std::ifstream in(path, std::ios::binary);
  SPATIALEMBED_CHECK(in, IOError, "{}: cannot open the imzML file: {}", path, std::strerror(errno));
  std::string text;
  try {
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::exception& e) {  // libstdc++ throws from underflow on read errors
    throw IOError(fmt::format("{}: read error: {}", path, e.what()));
  }
  SPATIALEMBED_CHECK(!in.bad(), IOError, "{}: read error", path);
  return text;
}

// The first non-finite value of a float array, or n.
template <class T>
std::size_t first_non_finite(const T* values, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) {
    if (!std::isfinite(values[j])) return j;
  }
  return n;
}

std::string to_hex(const unsigned char* bytes, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += fmt::format("{:02x}", bytes[i]);
  return s;
}

}  // namespace

struct ImzMLReader::Impl {
  std::string path, ibd_path;
  msi_detail::ParsedImzML parsed;
  int fd = -1;
  std::uint64_t ibd_size = 0;

  ~Impl() {
    if (fd >= 0) ::close(fd);
  }

  // Reads exactly n bytes at `offset`; a short read names the file and the offset.
  void pread_exact(std::uint64_t offset, std::size_t n, char* out) const {
    std::size_t done = 0;
    while (done < n) {
      const ssize_t got = ::pread(fd, out + done, n - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      SPATIALEMBED_CHECK(got >= 0, IOError, "{}: read error at byte offset {}: {}", ibd_path, offset + done,
                         std::strerror(errno));
      SPATIALEMBED_CHECK(got > 0, FormatError, "{}: file ends at byte offset {}, {} bytes were expected from offset {}",
                         ibd_path, offset + done, n, offset);
      done += static_cast<std::size_t>(got);
    }
  }

  // Throws FormatError naming the spectrum, its pixel and the value's byte offset when a
  // float array holds NaN or infinity (integer arrays cannot). Every read goes through it.
  void check_finite(const BinaryArrayRef& array, const void* values) const {
    const std::size_t n = static_cast<std::size_t>(array.length);
    std::size_t j = n;
    double bad = 0;
    if (array.type == BinaryDataType::float32) {
      const auto* v = static_cast<const float*>(values);
      if ((j = first_non_finite(v, n)) < n) bad = v[j];
    } else if (array.type == BinaryDataType::float64) {
      const auto* v = static_cast<const double*>(values);
      if ((j = first_non_finite(v, n)) < n) bad = v[j];
    }
    if (j == n) return;
    // The error path only: find the spectrum that owns the array.
    const char* kind = std::isnan(bad) ? "a NaN" : "an infinite";
    std::string owner = fmt::format("an array holds {} value", kind);
    for (std::size_t i = 0; i < parsed.spectra.size(); ++i) {
      const SpectrumRef& s = parsed.spectra[i];
      const bool mz = s.mz.offset == array.offset, intensity = s.intensity.offset == array.offset;
      if (!mz && !intensity) continue;
      owner = fmt::format("spectrum {} (pixel x={}, y={}) has {} {}", i, s.coordinate.x, s.coordinate.y, kind,
                          intensity ? "intensity" : "m/z value");
      break;
    }
    const std::string where =
        array.zlib ? fmt::format("element {} of the zlib-compressed array at byte offset {}", j, array.offset)
                   : fmt::format("byte offset {} (element {})", array.offset + j * byte_size(array.type), j);
    throw FormatError(fmt::format("{}: {} at {} of {}; values must be finite", path, owner, where, ibd_path));
  }
};

ImzMLReader::ImzMLReader(const std::string& imzml_path, ImzMLOptions options) : impl_(std::make_unique<Impl>()) {
  options.validate();
  auto& d = *impl_;
  d.path = imzml_path;
  d.ibd_path = options.ibd_path.empty() ? default_ibd_path(imzml_path) : options.ibd_path;
  {
    const std::string text = read_text_file(imzml_path);
    d.parsed = msi_detail::parse_imzml_xml(text.data(), text.size(), imzml_path);
  }
  d.fd = ::open(d.ibd_path.c_str(), O_RDONLY | O_CLOEXEC);
  SPATIALEMBED_CHECK(d.fd >= 0, IOError, "{}: cannot open the .ibd file of {}: {}", d.ibd_path, imzml_path,
                     std::strerror(errno));
  struct stat st {};
  SPATIALEMBED_CHECK(::fstat(d.fd, &st) == 0, IOError, "{}: cannot stat: {}", d.ibd_path, std::strerror(errno));
  SPATIALEMBED_CHECK(S_ISREG(st.st_mode), IOError, "{}: the .ibd of {} is not a regular file{}", d.ibd_path, imzml_path,
                     S_ISDIR(st.st_mode) ? " but a folder" : "");
  d.ibd_size = static_cast<std::uint64_t>(st.st_size);
  msi_detail::check_index(d.parsed, d.ibd_size, imzml_path, d.ibd_path);
  if (options.check_uuid && !d.parsed.metadata.uuid.empty()) {
    SPATIALEMBED_CHECK(d.ibd_size >= 16, FormatError, "{}: {} bytes, too short for the 16-byte UUID", d.ibd_path,
                       d.ibd_size);
    unsigned char uuid[16];
    d.pread_exact(0, 16, reinterpret_cast<char*>(uuid));
    const std::string ibd_uuid = to_hex(uuid, 16);
    SPATIALEMBED_CHECK(ibd_uuid == d.parsed.metadata.uuid, FormatError,
                       "UUID mismatch: {} names {} but {} starts with {} (byte offset 0): the files do not belong "
                       "together",
                       imzml_path, d.parsed.metadata.uuid, d.ibd_path, ibd_uuid);
  }
  if (options.verify_checksum) verify_checksum();
}

ImzMLReader::~ImzMLReader() = default;
ImzMLReader::ImzMLReader(ImzMLReader&&) noexcept = default;
ImzMLReader& ImzMLReader::operator=(ImzMLReader&&) noexcept = default;

const std::string& ImzMLReader::path() const { return impl_->path; }
const std::string& ImzMLReader::ibd_path() const { return impl_->ibd_path; }
std::uint64_t ImzMLReader::ibd_size() const { return impl_->ibd_size; }
const ImzMLMetadata& ImzMLReader::metadata() const { return impl_->parsed.metadata; }
std::size_t ImzMLReader::size() const { return impl_->parsed.spectra.size(); }
const std::vector<SpectrumRef>& ImzMLReader::spectra() const { return impl_->parsed.spectra; }

const SpectrumRef& ImzMLReader::spectrum(std::size_t i) const {
  SPATIALEMBED_CHECK(i < size(), InvalidArgument, "spectrum index {} out of range: {} has {} spectra", i, impl_->path,
                     size());
  return impl_->parsed.spectra[i];
}

void ImzMLReader::read_raw(const BinaryArrayRef& array, void* out, std::vector<char>& scratch) const {
  const std::size_t bytes = static_cast<std::size_t>(array.length * byte_size(array.type));
  if (!array.zlib) {
    impl_->pread_exact(array.offset, bytes, static_cast<char*>(out));
  } else {
    scratch.resize(static_cast<std::size_t>(array.encoded_length));
    impl_->pread_exact(array.offset, scratch.size(), scratch.data());
    msi_detail::inflate_exact(scratch.data(), scratch.size(), static_cast<char*>(out), bytes,
                              fmt::format("{}: array at byte offset {}", impl_->ibd_path, array.offset));
  }
  impl_->check_finite(array, out);
}

void ImzMLReader::read_array(const BinaryArrayRef& array, std::vector<double>& out, std::vector<char>& scratch) const {
  out.resize(static_cast<std::size_t>(array.length));
  if (array.type == BinaryDataType::float64 && !array.zlib) {
    impl_->pread_exact(array.offset, out.size() * 8, reinterpret_cast<char*>(out.data()));
    impl_->check_finite(array, out.data());
    return;
  }
  thread_local std::vector<char> raw;  // reused: no allocation per spectrum once warm
  raw.resize(out.size() * byte_size(array.type));
  read_raw(array, raw.data(), scratch);
  msi_detail::decode_to_double(raw.data(), out.size(), array.type, out.data());
}

void ImzMLReader::read_mz(std::size_t i, std::vector<double>& out) const {
  std::vector<char> scratch;
  read_array(spectrum(i).mz, out, scratch);
}

void ImzMLReader::read_intensities(std::size_t i, std::vector<double>& out) const {
  std::vector<char> scratch;
  read_array(spectrum(i).intensity, out, scratch);
}

double ImzMLReader::tic(std::size_t i) const {
  std::vector<double> values;
  read_intensities(i, values);
  double sum = 0;
  for (double v : values) sum += v;
  return sum;
}

std::pair<double, double> ImzMLReader::mz_range() const {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  std::vector<double> mz;
  std::vector<char> scratch;
  const std::size_t n = mode() == ImzMLMode::continuous ? 1 : size();
  for (std::size_t i = 0; i < n; ++i) {
    read_array(impl_->parsed.spectra[i].mz, mz, scratch);
    for (double v : mz) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (lo > hi) return {std::nan(""), std::nan("")};
  return {lo, hi};
}

void ImzMLReader::verify_checksum() const {
  const auto& meta = metadata();
  SPATIALEMBED_CHECK(!meta.sha1.empty() || !meta.md5.empty(), InvalidArgument,
                     "{}: verify_checksum asked, but the file gives neither an ibd SHA-1 (IMS:1000091) nor an ibd MD5 "
                     "(IMS:1000090)",
                     impl_->path);
  const bool sha1 = !meta.sha1.empty();
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  SPATIALEMBED_CHECK(ctx && EVP_DigestInit_ex(ctx.get(), sha1 ? EVP_sha1() : EVP_md5(), nullptr) == 1, Error,
                     "OpenSSL digest initialisation failed");
  std::vector<char> buffer(std::size_t{1} << 22);
  for (std::uint64_t offset = 0; offset < impl_->ibd_size; offset += buffer.size()) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), impl_->ibd_size - offset));
    impl_->pread_exact(offset, n, buffer.data());
    EVP_DigestUpdate(ctx.get(), buffer.data(), n);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  const std::string actual = to_hex(digest, length);
  const std::string& expected = sha1 ? meta.sha1 : meta.md5;
  SPATIALEMBED_CHECK(actual == expected, FormatError, "{}: {} is {} but {} states {}: the .ibd is corrupt or replaced",
                     impl_->ibd_path, sha1 ? "SHA-1" : "MD5", actual, impl_->path, expected);
}

}  // namespace spatialembed
