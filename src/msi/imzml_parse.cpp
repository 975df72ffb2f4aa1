#include "msi/imzml_parse.hpp"

#include <pugixml.hpp>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <tuple>

#include "msi/imzml_vocabulary.hpp"
#include "spatialembed/common/error.hpp"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the .ibd reader assumes a little-endian host");

namespace spatialembed::msi_detail {

namespace {

constexpr std::int64_t kMaxCoordinate = 1 << 24;
constexpr std::uint64_t kUuidBytes = 16;

// The controlled-vocabulary terms (kContinuous, kMzArray, ...): the table the writer uses too.
using namespace cv;

struct Context {
  const std::string& name;
  std::map<std::string, pugi::xml_node> groups;
};

std::string where(const pugi::xml_node& node) {
  const auto offset = node.offset_debug();
  return offset >= 0 ? fmt::format("XML byte offset {}", offset) : std::string("XML");
}

// The cvParams of `node` and of the referenceableParamGroups it references, in order.
std::vector<pugi::xml_node> collect_params(const Context& ctx, const pugi::xml_node& node) {
  std::vector<pugi::xml_node> params;
  for (const auto& child : node.children()) {
    if (std::strcmp(child.name(), "cvParam") == 0) {
      params.push_back(child);
    } else if (std::strcmp(child.name(), "referenceableParamGroupRef") == 0) {
      const std::string ref = child.attribute("ref").value();
      const auto group = ctx.groups.find(ref);
      SPATIALEMBED_CHECK(group != ctx.groups.end(), FormatError,
                         "{}: <referenceableParamGroupRef ref=\"{}\"> at {} names no referenceableParamGroup",
                         ctx.name, ref, where(child));
      for (const auto& p : group->second.children("cvParam")) params.push_back(p);
    }
  }
  return params;
}

pugi::xml_node find_param(const std::vector<pugi::xml_node>& params, const char* accession) {
  for (const auto& p : params) {
    if (std::strcmp(p.attribute("accession").value(), accession) == 0) return p;
  }
  return {};
}

pugi::xml_node find_param(const std::vector<pugi::xml_node>& params, const Term& term) {
  return find_param(params, term.accession);
}

std::string trimmed(const char* text) {
  std::string s(text);
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::uint64_t parse_u64(const Context& ctx, const pugi::xml_node& param, const char* what) {
  const std::string s = trimmed(param.attribute("value").value());
  SPATIALEMBED_CHECK(s.empty() || s[0] != '-', FormatError, "{}: {} is negative ({}) at {}", ctx.name, what, s,
                     where(param));
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  SPATIALEMBED_CHECK(ec != std::errc::result_out_of_range, FormatError,
                     "{}: {} = {} overflows a 64-bit unsigned integer at {}", ctx.name, what, s, where(param));
  SPATIALEMBED_CHECK(ec == std::errc() && end == s.data() + s.size() && !s.empty(), FormatError,
                     "{}: {} must be a non-negative integer, got \"{}\" at {}", ctx.name, what, s, where(param));
  return value;
}

double parse_double(const Context& ctx, const pugi::xml_node& param, const char* what) {
  const std::string s = trimmed(param.attribute("value").value());
  double value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  SPATIALEMBED_CHECK(ec == std::errc() && end == s.data() + s.size() && !s.empty() && std::isfinite(value),
                     FormatError, "{}: {} must be a finite number, got \"{}\" at {}", ctx.name, what, s, where(param));
  return value;
}

std::int32_t parse_coordinate(const Context& ctx, const pugi::xml_node& param, const char* what, std::size_t index) {
  const std::string s = trimmed(param.attribute("value").value());
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  SPATIALEMBED_CHECK(ec == std::errc() && end == s.data() + s.size() && !s.empty() && value >= 0 &&
                         value <= kMaxCoordinate,
                     FormatError, "{}: spectrum {}: {} must be an integer in [0, {}], got \"{}\" at {}", ctx.name,
                     index, what, kMaxCoordinate, s, where(param));
  return static_cast<std::int32_t>(value);
}

std::string hex_digest(const Context& ctx, const pugi::xml_node& param, const char* what) {
  std::string s = trimmed(param.attribute("value").value());
  for (auto& c : s) {
    SPATIALEMBED_CHECK(std::isxdigit(static_cast<unsigned char>(c)), FormatError,
                       "{}: {} must be hexadecimal, got \"{}\" at {}", ctx.name, what, s, where(param));
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

BinaryArrayRef parse_array(const Context& ctx, const std::vector<pugi::xml_node>& params, const pugi::xml_node& node,
                           std::size_t index, const char* kind) {
  BinaryArrayRef array;
  bool typed = false;
  for (const auto& t : cv::kDataTypes) {
    if (find_param(params, t.term.accession)) {
      SPATIALEMBED_CHECK(!typed, FormatError, "{}: spectrum {}: {} array at {} has two data-type terms", ctx.name,
                         index, kind, where(node));
      array.type = t.type;
      typed = true;
    }
  }
  for (const char* accession : cv::kUnsupportedTypes) {
    const auto p = find_param(params, accession);
    SPATIALEMBED_CHECK(!p, FormatError,
                       "{}: spectrum {}: {} array at {}: data type {} ({}) is not supported (float32, float64, int32, "
                       "int64 are)",
                       ctx.name, index, kind, where(p), accession, p.attribute("name").value());
  }
  if (!typed) {
    std::string seen;
    for (const auto& p : params) seen += fmt::format(" {}", p.attribute("accession").value());
    throw FormatError(fmt::format(
        "{}: spectrum {}: {} array at {} has no known data-type accession (MS:1000521 32-bit float, MS:1000523 "
        "64-bit float, MS:1000519 32-bit integer, MS:1000522 64-bit integer); its cvParams:{}",
        ctx.name, index, kind, where(node), seen.empty() ? " none" : seen));
  }
  for (const char* accession : cv::kUnsupportedCompressions) {
    const auto p = find_param(params, accession);
    SPATIALEMBED_CHECK(!p, FormatError,
                       "{}: spectrum {}: {} array at {}: compression {} ({}) is not supported (none or zlib are)",
                       ctx.name, index, kind, where(p), accession, p.attribute("name").value());
  }
  array.zlib = static_cast<bool>(find_param(params, kZlib));
  SPATIALEMBED_CHECK(!(array.zlib && find_param(params, kNoCompression)), FormatError,
                     "{}: spectrum {}: {} array at {} says both zlib and no compression", ctx.name, index, kind,
                     where(node));

  const auto offset = find_param(params, kExternalOffset);
  const auto length = find_param(params, kExternalLength);
  const auto encoded = find_param(params, kExternalEncodedLength);
  SPATIALEMBED_CHECK(offset && length, FormatError,
                     "{}: spectrum {}: {} array at {} lacks its external offset (IMS:1000102) or external array "
                     "length (IMS:1000103); inline base64 arrays are not imzML",
                     ctx.name, index, kind, where(node));
  array.offset = parse_u64(ctx, offset, "external offset");
  array.length = parse_u64(ctx, length, "external array length");
  const std::uint64_t width = byte_size(array.type);
  SPATIALEMBED_CHECK(array.length <= std::numeric_limits<std::uint64_t>::max() / width, FormatError,
                     "{}: spectrum {}: external array length {} overflows at {}", ctx.name, index, array.length,
                     where(length));
  if (encoded) {
    array.encoded_length = parse_u64(ctx, encoded, "external encoded length");
  } else {
    SPATIALEMBED_CHECK(!array.zlib, FormatError,
                       "{}: spectrum {}: zlib-compressed {} array at {} lacks its external encoded length (IMS:1000104)",
                       ctx.name, index, kind, where(node));
    array.encoded_length = array.length * width;
  }
  if (!array.zlib) {
    SPATIALEMBED_CHECK(array.encoded_length == array.length * width, FormatError,
                       "{}: spectrum {}: {} array at {}: encoded length {} bytes != {} values x {} bytes ({})", ctx.name,
                       index, kind, where(node), array.encoded_length, array.length, width, to_string(array.type));
  } else {
    // zlib cannot expand more than ~1032:1; a larger claim is corrupt (and would allocate).
    SPATIALEMBED_CHECK(array.length * width / 1032 <= array.encoded_length + 64, FormatError,
                       "{}: spectrum {}: zlib {} array at {}: {} values cannot come from {} compressed bytes", ctx.name,
                       index, kind, where(node), array.length, array.encoded_length);
  }
  return array;
}

}  // namespace

std::string normalize_uuid(const std::string& text, const std::string& name) {
  std::string hex;
  for (char c : text) {
    if (c == '{' || c == '}' || c == '-' || std::isspace(static_cast<unsigned char>(c))) continue;
    SPATIALEMBED_CHECK(std::isxdigit(static_cast<unsigned char>(c)), FormatError,
                       "{}: the UUID (IMS:1000080) must be hexadecimal, got \"{}\"", name, text);
    hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  SPATIALEMBED_CHECK(hex.size() == 32, FormatError, "{}: the UUID (IMS:1000080) must have 32 hex digits, got \"{}\"",
                     name, text);
  return hex;
}

ParsedImzML parse_imzml_xml(const char* text, std::size_t size, const std::string& name) {
  pugi::xml_document doc;
  const auto result = doc.load_buffer(text, size, pugi::parse_default, pugi::encoding_auto);
  SPATIALEMBED_CHECK(result, FormatError, "{}: malformed XML at byte offset {}: {}", name, result.offset,
                     result.description());
  Context ctx{name, {}};
  auto mzml = doc.child("mzML");
  if (!mzml) mzml = doc.child("indexedmzML").child("mzML");
  SPATIALEMBED_CHECK(mzml, FormatError, "{}: no <mzML> root element (root is <{}>)", name,
                     doc.document_element().name());
  for (const auto& group : mzml.child("referenceableParamGroupList").children("referenceableParamGroup")) {
    ctx.groups[group.attribute("id").value()] = group;
  }

  ParsedImzML parsed;
  auto& meta = parsed.metadata;
  const auto content = mzml.child("fileDescription").child("fileContent");
  const auto file_params = collect_params(ctx, content);
  const bool continuous = static_cast<bool>(find_param(file_params, kContinuous));
  const bool processed = static_cast<bool>(find_param(file_params, kProcessed));
  SPATIALEMBED_CHECK(!(continuous && processed), FormatError,
                     "{}: <fileContent> at {} declares both continuous and processed mode", name, where(content));
  if (const auto p = find_param(file_params, kUuid)) meta.uuid = normalize_uuid(p.attribute("value").value(), name);
  if (const auto p = find_param(file_params, kSha1)) meta.sha1 = hex_digest(ctx, p, "ibd SHA-1");
  if (const auto p = find_param(file_params, kMd5)) meta.md5 = hex_digest(ctx, p, "ibd MD5");

  for (const auto& settings : mzml.child("scanSettingsList").children("scanSettings")) {
    const auto params = collect_params(ctx, settings);
    if (const auto p = find_param(params, kMaxCountX)) meta.max_count_x = static_cast<std::int64_t>(std::min<std::uint64_t>(parse_u64(ctx, p, "max count of pixels x"), kMaxCoordinate));
    if (const auto p = find_param(params, kMaxCountY)) meta.max_count_y = static_cast<std::int64_t>(std::min<std::uint64_t>(parse_u64(ctx, p, "max count of pixels y"), kMaxCoordinate));
    if (const auto p = find_param(params, kPixelSizeX)) meta.pixel_size_x = parse_double(ctx, p, "pixel size x");
    if (const auto p = find_param(params, kPixelSizeY)) meta.pixel_size_y = parse_double(ctx, p, "pixel size y");
  }
  if (std::isnan(meta.pixel_size_y)) meta.pixel_size_y = meta.pixel_size_x;

  const auto list = mzml.child("run").child("spectrumList");
  for (const auto& spectrum : list.children("spectrum")) {
    const std::size_t index = parsed.spectra.size();
    SpectrumRef ref;
    const auto spectrum_params = collect_params(ctx, spectrum);
    if (const auto p = find_param(spectrum_params, kTic)) ref.stored_tic = parse_double(ctx, p, "total ion current");

    std::vector<pugi::xml_node> position = collect_params(ctx, spectrum.child("scanList").child("scan"));
    position.insert(position.end(), spectrum_params.begin(), spectrum_params.end());
    const auto px = find_param(position, kPositionX);
    const auto py = find_param(position, kPositionY);
    SPATIALEMBED_CHECK(px && py, FormatError,
                       "{}: spectrum {} at {} has no pixel coordinates (IMS:1000050 position x, IMS:1000051 position y)",
                       name, index, where(spectrum));
    ref.coordinate.x = parse_coordinate(ctx, px, "position x", index);
    ref.coordinate.y = parse_coordinate(ctx, py, "position y", index);
    if (const auto pz = find_param(position, kPositionZ)) ref.coordinate.z = parse_coordinate(ctx, pz, "position z", index);

    bool has_mz = false, has_intensity = false;
    for (const auto& array : spectrum.child("binaryDataArrayList").children("binaryDataArray")) {
      const auto params = collect_params(ctx, array);
      const bool is_mz = static_cast<bool>(find_param(params, kMzArray));
      const bool is_intensity = static_cast<bool>(find_param(params, kIntensityArray));
      if (is_mz == is_intensity) continue;  // another kind of array (or an ambiguous one): not ours
      SPATIALEMBED_CHECK(!(is_mz ? has_mz : has_intensity), FormatError, "{}: spectrum {} has two {} arrays (at {})",
                         name, index, is_mz ? "m/z" : "intensity", where(array));
      (is_mz ? ref.mz : ref.intensity) = parse_array(ctx, params, array, index, is_mz ? "m/z" : "intensity");
      (is_mz ? has_mz : has_intensity) = true;
    }
    SPATIALEMBED_CHECK(has_mz && has_intensity, FormatError,
                       "{}: spectrum {} at {} lacks its {} array (MS:1000514 / MS:1000515)", name, index,
                       where(spectrum), has_mz ? "intensity" : "m/z");
    SPATIALEMBED_CHECK(ref.mz.length == ref.intensity.length, FormatError,
                       "{}: spectrum {} at {} has {} m/z values but {} intensities", name, index, where(spectrum),
                       ref.mz.length, ref.intensity.length);
    parsed.spectra.push_back(ref);
  }
  SPATIALEMBED_CHECK(!parsed.spectra.empty(), FormatError, "{}: <run><spectrumList> holds no <spectrum>", name);

  const auto same_mz = [&](const SpectrumRef& s) {
    const auto& a = parsed.spectra.front().mz;
    return s.mz.offset == a.offset && s.mz.length == a.length && s.mz.type == a.type && s.mz.zlib == a.zlib &&
           s.mz.encoded_length == a.encoded_length;
  };
  if (continuous) {
    for (std::size_t i = 0; i < parsed.spectra.size(); ++i) {
      SPATIALEMBED_CHECK(same_mz(parsed.spectra[i]), FormatError,
                         "{}: declared continuous (IMS:1000030) but spectrum {}'s m/z array (byte offset {}, {} values) "
                         "differs from spectrum 0's (byte offset {}, {} values)",
                         name, i, parsed.spectra[i].mz.offset, parsed.spectra[i].mz.length,
                         parsed.spectra.front().mz.offset, parsed.spectra.front().mz.length);
    }
    meta.mode = ImzMLMode::continuous;
  } else if (processed) {
    meta.mode = ImzMLMode::processed;
  } else {
    meta.mode = std::all_of(parsed.spectra.begin(), parsed.spectra.end(), same_mz) ? ImzMLMode::continuous
                                                                                    : ImzMLMode::processed;
  }
  return parsed;
}

void check_index(const ParsedImzML& parsed, std::uint64_t ibd_size, const std::string& name,
                 const std::string& ibd_name) {
  (void)name;
  for (std::size_t i = 0; i < parsed.spectra.size(); ++i) {
    for (int k = 0; k < 2; ++k) {
      const auto& a = k == 0 ? parsed.spectra[i].mz : parsed.spectra[i].intensity;
      const char* kind = k == 0 ? "m/z" : "intensity";
      if (a.encoded_length == 0) continue;
      SPATIALEMBED_CHECK(a.offset >= kUuidBytes, FormatError,
                         "{}: spectrum {}'s {} array starts at byte offset {}, inside the 16-byte UUID", ibd_name, i,
                         kind, a.offset);
      SPATIALEMBED_CHECK(a.encoded_length <= ibd_size && a.offset <= ibd_size - a.encoded_length, FormatError,
                         "{}: spectrum {}'s {} array at byte offset {} with {} bytes runs past the end of the file "
                         "({} bytes): truncated .ibd or wrong offset",
                         ibd_name, i, kind, a.offset, a.encoded_length, ibd_size);
    }
  }
  std::vector<std::size_t> order(parsed.spectra.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  const auto key = [&](std::size_t i) {
    const auto& c = parsed.spectra[i].coordinate;
    return std::make_tuple(c.z, c.y, c.x);
  };
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key(a) < key(b) || (key(a) == key(b) && a < b); });
  for (std::size_t k = 1; k < order.size(); ++k) {
    if (key(order[k]) == key(order[k - 1])) {
      const auto& c = parsed.spectra[order[k]].coordinate;
      throw FormatError(fmt::format("{}: spectra {} and {} share the pixel coordinate (x={}, y={}, z={})", name,
                                    order[k - 1], order[k], c.x, c.y, c.z));
    }
  }
}

void decode_to_double(const char* bytes, std::size_t count, BinaryDataType type, double* out) {
  switch (type) {
    case BinaryDataType::float32:
      for (std::size_t i = 0; i < count; ++i) {
        float v;
        std::memcpy(&v, bytes + 4 * i, 4);
        out[i] = v;
      }
      break;
    case BinaryDataType::float64:
      std::memcpy(out, bytes, 8 * count);
      break;
    case BinaryDataType::int32:
      for (std::size_t i = 0; i < count; ++i) {
        std::int32_t v;
        std::memcpy(&v, bytes + 4 * i, 4);
        out[i] = v;
      }
      break;
    case BinaryDataType::int64:
      for (std::size_t i = 0; i < count; ++i) {
        std::int64_t v;
        std::memcpy(&v, bytes + 8 * i, 8);
        out[i] = static_cast<double>(v);
      }
      break;
  }
}

void inflate_exact(const char* in, std::size_t in_size, char* out, std::size_t out_size, const std::string& what) {
  z_stream stream{};
  SPATIALEMBED_CHECK(inflateInit(&stream) == Z_OK, FormatError, "{}: zlib initialisation failed", what);
  std::size_t in_done = 0, out_done = 0;
  int status = Z_OK;
  while (status == Z_OK) {
    const auto in_chunk = static_cast<uInt>(std::min<std::size_t>(in_size - in_done, 1u << 30));
    const auto out_chunk = static_cast<uInt>(std::min<std::size_t>(out_size - out_done, 1u << 30));
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in + in_done));
    stream.avail_in = in_chunk;
    stream.next_out = reinterpret_cast<Bytef*>(out + out_done);
    stream.avail_out = out_chunk;
    status = inflate(&stream, Z_NO_FLUSH);
    in_done += in_chunk - stream.avail_in;
    out_done += out_chunk - stream.avail_out;
    if (status == Z_OK && stream.avail_in == in_chunk && stream.avail_out == out_chunk) break;  // no progress
    if (status == Z_BUF_ERROR) break;
  }
  inflateEnd(&stream);
  SPATIALEMBED_CHECK(status == Z_STREAM_END && out_done == out_size, FormatError,
                     "{}: corrupt zlib data ({} compressed bytes gave {} of {} expected bytes{})", what, in_size,
                     out_done, out_size, status == Z_STREAM_END ? "" : ", stream incomplete or invalid");
}

}  // namespace spatialembed::msi_detail
