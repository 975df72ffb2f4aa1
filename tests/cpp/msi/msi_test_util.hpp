#pragma once
// Helpers of the MSI tests: the shared data folder, scratch folders, and a hand-written
// imzML builder (independent of ImzMLWriter) for the bad-input cases.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <initializer_list>
#include <iterator>

namespace spatialembed::test {

/// $SPATIALEMBED_DATA, else ../shared/data beside the source tree; empty if absent.
inline std::string data_dir() {
  const char* env = std::getenv("SPATIALEMBED_DATA");
  const std::filesystem::path path = env ? std::filesystem::path(env)
                                         : std::filesystem::path(SPATIALEMBED_SOURCE_DIR).parent_path() / "shared" / "data";
  return std::filesystem::is_directory(path) ? path.string() : std::string();
}

/// A fresh, empty scratch folder under the system temp folder, removed at destruction.
struct ScratchDir {
  std::filesystem::path path;
  explicit ScratchDir(const std::string& name) {
    path = std::filesystem::temp_directory_path() / fmt::format("spatialembed_{}_{}", name, ::getpid());
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

inline void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// The whole file as bytes.
inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// Runs `f` and checks that it throws E whose message contains every one of `texts`.
template <class E, class F>
void expect_error(F&& f, std::initializer_list<std::string> texts) {
  try {
    f();
    FAIL("no exception thrown");
  } catch (const E& e) {
    for (const auto& text : texts) CHECK_THAT(e.what(), Catch::Matchers::Contains(text));
  }
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

/// One array of a hand-built spectrum, described literally as it goes into the XML.
struct RawArray {
  std::string type = "MS:1000521";  // data-type accession
  std::string compression = "MS:1000576";
  std::string offset, length, encoded_length;  // the literal attribute values
};

struct RawSpectrum {
  int x = 1, y = 1;
  RawArray mz, intensity;
};

/// imzML XML text for `spectra`, with a UUID and a mode, as a minimal but complete file.
inline std::string imzml_text(const std::vector<RawSpectrum>& spectra, const std::string& uuid,
                              const std::string& mode = "IMS:1000031") {
  std::string x = R"(<?xml version="1.0" encoding="UTF-8"?>
<mzML xmlns="http://psi.hupo.org/ms/mzml" version="1.1">
 <fileDescription><fileContent>
)";
  x += fmt::format("  <cvParam cvRef=\"IMS\" accession=\"{}\" name=\"mode\"/>\n", mode);
  if (!uuid.empty()) x += fmt::format("  <cvParam cvRef=\"IMS\" accession=\"IMS:1000080\" name=\"universally unique identifier\" value=\"{}\"/>\n", uuid);
  x += " </fileContent></fileDescription>\n <run id=\"r\"><spectrumList count=\"1\">\n";
  int index = 0;
  for (const auto& s : spectra) {
    x += fmt::format("  <spectrum id=\"s{}\" index=\"{}\" defaultArrayLength=\"0\">\n", index, index);
    x += fmt::format("   <scanList count=\"1\"><scan><cvParam cvRef=\"IMS\" accession=\"IMS:1000050\" name=\"position x\" value=\"{}\"/>"
                     "<cvParam cvRef=\"IMS\" accession=\"IMS:1000051\" name=\"position y\" value=\"{}\"/></scan></scanList>\n", s.x, s.y);
    x += "   <binaryDataArrayList count=\"2\">\n";
    for (int k = 0; k < 2; ++k) {
      const RawArray& a = k == 0 ? s.mz : s.intensity;
      x += fmt::format("    <binaryDataArray encodedLength=\"0\"><cvParam accession=\"{}\" name=\"array\"/>"
                       "<cvParam accession=\"{}\" name=\"type\"/><cvParam accession=\"{}\" name=\"compression\"/>",
                       k == 0 ? "MS:1000514" : "MS:1000515", a.type, a.compression);
      x += fmt::format("<cvParam accession=\"IMS:1000102\" name=\"external offset\" value=\"{}\"/>", a.offset);
      x += fmt::format("<cvParam accession=\"IMS:1000103\" name=\"external array length\" value=\"{}\"/>", a.length);
      x += fmt::format("<cvParam accession=\"IMS:1000104\" name=\"external encoded length\" value=\"{}\"/><binary/></binaryDataArray>\n",
                       a.encoded_length);
    }
    x += "   </binaryDataArrayList>\n  </spectrum>\n";
    ++index;
  }
  x += " </spectrumList></run>\n</mzML>\n";
  return x;
}

/// Appends `values` as little-endian T to `bytes`; returns the byte offset they start at.
template <class T, class V>
std::size_t append_values(std::vector<char>& bytes, const std::vector<V>& values) {
  const std::size_t offset = bytes.size();
  for (V v : values) {
    const T t = static_cast<T>(v);
    const char* p = reinterpret_cast<const char*>(&t);
    bytes.insert(bytes.end(), p, p + sizeof(T));
  }
  return offset;
}

/// The 16 UUID bytes of a 32-hex-digit string.
inline std::vector<char> uuid_bytes(const std::string& hex) {
  std::vector<char> bytes;
  for (std::size_t i = 0; i < 32; i += 2) bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return bytes;
}

}  // namespace spatialembed::test
