#include "spatialembed/msi/simulated_tissue.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include "msi/msi_test_util.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/output_staging.hpp"
#include "spatialembed/msi/imzml_reader.hpp"
#include "spatialembed/msi/ion_images.hpp"
#include "spatialembed/msi/ion_image_stack.hpp"

using namespace spatialembed;
using namespace spatialembed::test;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

// Every file under `folder` (recursively), by relative name, with its bytes.
std::map<std::string, std::string> folder_bytes(const fs::path& folder) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(folder)) {
    if (e.is_regular_file()) files[fs::relative(e.path(), folder).string()] = read_text(e.path());
  }
  return files;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) ma += a[i], mb += b[i];
  ma /= static_cast<double>(a.size()), mb /= static_cast<double>(b.size());
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) * (a[i] - ma), sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

// The measured pixels of image k of `stack`, and the same pixels of the truth map, in the
// truth's frame (extraction crops to the measured bounding box).
struct Paired {
  std::vector<double> image, map;
};

Paired paired(const IonImageStack& stack, std::size_t k, const SimulatedTissueTruth& t, const std::vector<float>& map) {
  Paired out;
  for (std::size_t y = 0; y < stack.height; ++y) {
    for (std::size_t x = 0; x < stack.width; ++x) {
      const std::size_t tp = (y + static_cast<std::size_t>(stack.origin_y) - 1) * t.width + x +
                             static_cast<std::size_t>(stack.origin_x) - 1;
      if (!t.mask[tp]) continue;
      out.image.push_back(stack.image(k)[y * stack.width + x]);
      out.map.push_back(map[tp]);
    }
  }
  return out;
}

SimulatedTissueOptions quiet_options(SimulationOutput output) {
  SimulatedTissueOptions o;
  o.output = output;
  o.seed = 7;
  o.hotspot_fraction = 0;  // single extreme pixels would dominate Pearson correlations
  o.num_threads = 2;
  return o;
}

}  // namespace

TEST_CASE("simulate_tissue_truth: ion table, isotopes, patterns and shoulder pairs are consistent", "[msi][simulate]") {
  SimulatedTissueOptions o;
  const auto t = simulate_tissue_truth(o);
  REQUIRE(t.n_ions() >= 80);
  REQUIRE(t.n_ions() <= 160);
  CHECK(std::is_sorted(t.mz.begin(), t.mz.end()));
  CHECK(t.molecule_mz.size() == 40);
  std::map<std::int32_t, std::vector<std::size_t>> by_molecule;
  for (std::size_t k = 0; k < t.n_ions(); ++k) by_molecule[t.molecule[k]].push_back(k);
  for (const auto& [m, ions] : by_molecule) {
    REQUIRE(ions.size() >= 2);
    REQUIRE(ions.size() <= 4);
    for (std::size_t i = 0; i < ions.size(); ++i) {
      const std::size_t k = ions[i];
      CHECK(t.isotope[k] == static_cast<std::int32_t>(i));
      CHECK(t.pattern[k] == t.molecule_pattern[static_cast<std::size_t>(m)]);
      CHECK(t.mz[k] == Approx(t.molecule_mz[static_cast<std::size_t>(m)] + 1.00336 * static_cast<double>(i)).margin(1e-9));
      if (i > 0) CHECK(t.abundance[k] < t.abundance[ions[i - 1]]);  // the envelope decays
    }
  }
  std::vector<std::size_t> per_pattern(t.patterns.size(), 0);
  for (std::size_t k = 0; k < t.n_ions(); ++k) {
    REQUIRE(t.pattern[k] >= 0);
    REQUIRE(static_cast<std::size_t>(t.pattern[k]) < t.patterns.size());
    ++per_pattern[static_cast<std::size_t>(t.pattern[k])];
    CHECK(t.kind[k] == t.patterns[static_cast<std::size_t>(t.pattern[k])].kind);
  }
  std::map<PatternKind, int> kinds;
  for (std::size_t i = 0; i < t.patterns.size(); ++i) {
    CHECK(per_pattern[i] == t.patterns[i].n_ions);
    CHECK(t.patterns[i].n_ions > 0);
    CHECK(t.patterns[i].n_pixels > 0);
    const auto map = t.pattern_map(i);
    CHECK(static_cast<std::size_t>(std::count_if(map.begin(), map.end(), [](float v) { return v > 0; })) ==
          t.patterns[i].n_pixels);
    ++kinds[t.patterns[i].kind];
  }
  CHECK(kinds[PatternKind::region] == 5);
  CHECK(kinds[PatternKind::nodule] == 3);
  CHECK(kinds[PatternKind::region_nodule] == 3);
  CHECK(kinds[PatternKind::layer] == 2);
  CHECK(kinds[PatternKind::gradient] == 1);
  // Nodules are small, layers thin.
  for (const auto& p : t.patterns) {
    if (p.kind == PatternKind::nodule) CHECK(p.n_pixels <= 40);
    if (p.kind == PatternKind::layer) CHECK(p.n_pixels < 400);
  }
  // Shoulder pairs: symmetric, half a FWHM apart, different patterns; all other peaks apart.
  std::size_t shoulders = 0;
  for (std::size_t k = 0; k < t.n_ions(); ++k) {
    if (t.shoulder[k] < 0) continue;
    const auto j = static_cast<std::size_t>(t.shoulder[k]);
    ++shoulders;
    CHECK(t.shoulder[j] == static_cast<std::int32_t>(k));
    CHECK(t.pattern[j] != t.pattern[k]);
    // Offset by half the FWHM at the apex molecule's monoisotopic m/z, for every isotope.
    const double mono = t.molecule_mz[static_cast<std::size_t>(t.molecule[std::min(j, k)])];
    CHECK(std::abs(t.mz[j] - t.mz[k]) == Approx(0.5 * mono / 20000).epsilon(1e-6));
  }
  CHECK(shoulders >= 4);
  for (std::size_t k = 1; k < t.n_ions(); ++k) {
    if (t.shoulder[k] == static_cast<std::int32_t>(k - 1)) continue;
    CHECK(t.mz[k] - t.mz[k - 1] >= 3.0 * t.mz[k] / 20000 * 0.999);
  }
}

TEST_CASE("simulate_tissue_truth: n_ion_images gives exactly that many ion images", "[msi][simulate]") {
  SimulatedTissueOptions o;
  o.n_ion_images = 333;
  o.seed = 3;
  const auto t = simulate_tissue_truth(o);
  CHECK(t.n_ions() == 333);
  o.tissue_mask = false;
  const auto full = simulate_tissue_truth(o);
  CHECK(std::count(full.mask.begin(), full.mask.end(), 1) == 64 * 64);
  CHECK(std::count(t.mask.begin(), t.mask.end(), 1) < 64 * 64);
}

TEST_CASE("simulate_tissue: same seed gives byte-identical files for 1 and 2 threads, another seed differs",
          "[msi][simulate]") {
  ScratchDir dir("simulate_determinism");
  for (auto output : {SimulationOutput::processed, SimulationOutput::continuous, SimulationOutput::png}) {
    const std::string name = to_string(output);
    const std::string file = output == SimulationOutput::png ? name : name + ".imzML";
    SimulatedTissueOptions o;
    o.output = output;
    o.seed = 11;
    for (int threads : {1, 2}) {
      o.num_threads = threads;
      simulate_tissue((dir.path / fmt::format("t{}", threads) / file).string(), o);
    }
    o.seed = 12;
    simulate_tissue((dir.path / "other" / file).string(), o);
    auto one = folder_bytes(dir.path / "t1"), two = folder_bytes(dir.path / "t2");
    const auto other = folder_bytes(dir.path / "other");
    // A PNG folder's output marker says when it was written, so two runs straddling a second
    // differ there; the data files are what must be identical.
    if (output == SimulationOutput::png) {
      const std::string marker = (fs::path(file) / kOutputMarker).string();
      CHECK(one.erase(marker) == 1);
      CHECK(two.erase(marker) == 1);
    }
    CHECK(one.size() >= 2);
    CHECK(one == two);
    CHECK(one != other);
    for (const auto& [f, bytes] : one) CHECK(f.find(".partial") == std::string::npos);
    fs::remove_all(dir.path / "t1"), fs::remove_all(dir.path / "t2"), fs::remove_all(dir.path / "other");
  }
}

TEST_CASE("simulate_tissue: processed imzML reads back with the truth's values and patterns", "[msi][simulate]") {
  ScratchDir dir("simulate_processed");
  const auto path = dir.file("tissue.imzML");
  const auto t = simulate_tissue(path, quiet_options(SimulationOutput::processed));
  CHECK(fs::exists(dir.file("tissue.ibd")));
  CHECK(fs::exists(dir.file("tissue_truth.json")));
  ImzMLReader reader(path, {std::string(), true, true});
  CHECK(reader.mode() == ImzMLMode::processed);
  CHECK(reader.size() == static_cast<std::size_t>(std::count(t.mask.begin(), t.mask.end(), 1)));
  // Spectrum values are the truth's intensities (float32), zeros omitted.
  std::vector<double> mz, values;
  for (std::size_t i : {std::size_t{0}, reader.size() / 2, reader.size() - 1}) {
    reader.read_mz(i, mz);
    reader.read_intensities(i, values);
    const auto c = reader.coordinate(i);
    const std::size_t p = static_cast<std::size_t>(c.y - 1) * t.width + static_cast<std::size_t>(c.x - 1);
    std::size_t j = 0;
    for (std::size_t k = 0; k < t.n_ions(); ++k) {
      const auto v = static_cast<float>(t.intensity(k, p));
      if (v == 0.0f) continue;
      REQUIRE(j < mz.size());
      CHECK(mz[j] == t.mz[k]);
      CHECK(values[j] == v);
      ++j;
    }
    CHECK(j == mz.size());
  }

  IonImageOptions io;
  io.tolerance = 1.0;  // ppm: the centroids are the exact truth m/z; shoulders lie 25 ppm away
  io.num_threads = 2;
  const auto stack = extract_ion_images(reader, VectorView<const double>(t.mz), io);
  std::vector<std::vector<float>> maps;
  for (std::size_t i = 0; i < t.patterns.size(); ++i) maps.push_back(t.pattern_map(i));
  double same = 0, cross = 0;
  std::size_t n_same = 0, n_cross = 0;
  for (std::size_t k = 0; k < t.n_ions(); ++k) {
    const auto pk = paired(stack, k, t, maps[static_cast<std::size_t>(t.pattern[k])]);
    const double r = pearson(pk.image, pk.map);
    INFO("ion " << k << " m/z " << t.mz[k] << " kind " << to_string(t.kind[k]));
    CHECK(r > (t.kind[k] == PatternKind::nodule ? 0.8 : 0.9));
    same += r, ++n_same;
    const std::size_t other = (static_cast<std::size_t>(t.pattern[k]) + 1) % t.patterns.size();
    cross += std::abs(pearson(pk.image, paired(stack, k, t, maps[other]).map)), ++n_cross;
  }
  CHECK(same / static_cast<double>(n_same) > 0.95);
  CHECK(cross / static_cast<double>(n_cross) < 0.3);

  // Nodule-only ions: zero outside their nodule up to the (bounded) additive noise, which
  // the detection limit (3 noise sd) almost always cuts.
  std::size_t nodule_ions = 0, outside = 0, outside_zero = 0;
  for (std::size_t k = 0; k < t.n_ions(); ++k) {
    if (t.kind[k] != PatternKind::nodule) continue;
    ++nodule_ions;
    const auto pk = paired(stack, k, t, maps[static_cast<std::size_t>(t.pattern[k])]);
    const double bound = t.abundance[k] * t.options.noise * std::sqrt(12.0) * (1 + 1e-6);
    for (std::size_t i = 0; i < pk.map.size(); ++i) {
      if (pk.map[i] != 0) continue;
      REQUIRE(pk.image[i] <= bound);
      ++outside, outside_zero += pk.image[i] == 0;
    }
  }
  CHECK(nodule_ions >= 3);
  CHECK(static_cast<double>(outside_zero) >= 0.999 * static_cast<double>(outside));
  // Centroid spectra are sparse: an ion is present where its pattern is.
  std::size_t values_stored = 0;
  for (const auto& s : reader.spectra()) values_stored += s.mz.length;
  CHECK(static_cast<double>(values_stored) < 0.6 * static_cast<double>(reader.size() * t.n_ions()));
}

TEST_CASE("simulate_tissue: continuous imzML samples the Gaussian peaks on one axis; shoulders differ spatially",
          "[msi][simulate]") {
  ScratchDir dir("simulate_continuous");
  const auto path = dir.file("tissue.imzML");
  auto o = quiet_options(SimulationOutput::continuous);
  o.n_shoulder_pairs = 4;
  const auto t = simulate_tissue(path, o);
  ImzMLReader reader(path);
  CHECK(reader.mode() == ImzMLMode::continuous);
  std::vector<double> axis, values;
  reader.read_mz(0, axis);
  CHECK(std::adjacent_find(axis.begin(), axis.end(), std::greater_equal<>()) == axis.end());
  for (double m : t.mz) CHECK(std::binary_search(axis.begin(), axis.end(), m));  // every apex is an axis point
  CHECK(axis.size() < 20 * t.n_ions());  // only the peaks are sampled
  // A Gaussian of FWHM m/R: half height at ±FWHM/2 of an isolated peak.
  const std::size_t pixel = reader.size() / 2;
  reader.read_intensities(pixel, values);
  const auto c = reader.coordinate(pixel);
  const std::size_t p = static_cast<std::size_t>(c.y - 1) * t.width + static_cast<std::size_t>(c.x - 1);
  for (std::size_t k = 0; k < t.n_ions(); ++k) {
    if (t.shoulder[k] >= 0) continue;
    const auto apex = static_cast<std::size_t>(std::lower_bound(axis.begin(), axis.end(), t.mz[k]) - axis.begin());
    CHECK(values[apex] == Approx(static_cast<float>(t.intensity(k, p))).epsilon(1e-5).margin(1e-3));
  }

  IonImageOptions io;
  io.tolerance = 0.1 * t.mz.front() / o.resolving_power;  // Da: the apex point only
  io.unit = ToleranceUnit::da;
  const auto stack = extract_ion_images(reader, VectorView<const double>(t.mz), io);
  std::size_t pairs = 0;
  for (std::size_t k = 0; k < t.n_ions(); ++k) {
    const auto map = t.pattern_map(static_cast<std::size_t>(t.pattern[k]));
    const double r = pearson(paired(stack, k, t, map).image, paired(stack, k, t, map).map);
    if (t.shoulder[k] < 0) {
      INFO("ion " << k << " kind " << to_string(t.kind[k]));
      CHECK(r > (t.kind[k] == PatternKind::nodule ? 0.8 : 0.9));
      continue;
    }
    // Apex and shoulder of one TOF peak: each image follows its own pattern more than the other's image does.
    const auto j = static_cast<std::size_t>(t.shoulder[k]);
    const double r_other = pearson(paired(stack, j, t, map).image, paired(stack, j, t, map).map);
    CHECK(r > r_other);
    ++pairs;
  }
  CHECK(pairs >= 8);
}

TEST_CASE("simulate_tissue: the PNG folder reads back with read_png_stack, scaled by png_max", "[msi][simulate]") {
  ScratchDir dir("simulate_png");
  auto o = quiet_options(SimulationOutput::png);
  o.hotspot_fraction = 0.01;
  const auto folder = dir.file("images");
  const auto t = simulate_tissue(folder + "/", o);
  CHECK(fs::exists(dir.file("images_truth.json")));
  const auto stack = read_png_stack(folder);
  REQUIRE(stack.n_images() == t.n_ions());
  CHECK(stack.mz == t.mz);
  CHECK(stack.mask == t.mask);
  REQUIRE(t.png_max.size() == t.n_ions());
  std::size_t hot = 0, measured = 0;
  for (std::size_t k = 0; k < t.n_ions(); ++k) {
    for (std::size_t p = 0; p < t.n_pixels(); ++p) {
      if (!t.mask[p]) continue;
      const double expected = t.intensity(k, p);
      REQUIRE(std::abs(stack.image(k)[p] * t.png_max[k] - expected) <= t.png_max[k] * (0.5 / 65535 + 1e-6));
      hot += expected >= 20 * t.abundance[k];
      ++measured;
    }
  }
  // Hotspots: about hotspot_fraction of the values.
  CHECK(static_cast<double>(hot) / static_cast<double>(measured) == Approx(0.01).epsilon(0.15));
}

TEST_CASE("simulate_tissue: refuses to overwrite, replaces with overwrite, leaves nothing when cancelled",
          "[msi][simulate]") {
  ScratchDir dir("simulate_overwrite");
  SimulatedTissueOptions o;
  o.width = o.height = 16;
  o.n_molecules = 6;
  const auto path = dir.file("a.imzML");
  simulate_tissue(path, o);
  expect_error<IOError>([&] { simulate_tissue(path, o); }, {path, "overwrite"});
  write_text(dir.file("b_truth.json"), "{}");
  expect_error<IOError>([&] { simulate_tissue(dir.file("b.imzML"), o); }, {"b_truth.json"});
  o.overwrite = true;
  o.seed = 5;
  simulate_tissue(path, o);
  CHECK(read_text(dir.file("a_truth.json")).find("\"seed\": 5") != std::string::npos);

  o.output = SimulationOutput::png;
  fs::create_directories(dir.file("not_pngs"));
  write_text(dir.file("not_pngs/notes.txt"), "keep me");
  expect_error<IOError>([&] { simulate_tissue(dir.file("not_pngs"), o); }, {"notes.txt"});
  CHECK(fs::exists(dir.file("not_pngs/notes.txt")));
  simulate_tissue(dir.file("pngs"), o);
  simulate_tissue(dir.file("pngs"), o);  // a PNG folder may be replaced

  const auto before = folder_bytes(dir.path);
  o.progress = [](std::size_t done, std::size_t) { return done == 0; };
  for (auto output : {SimulationOutput::processed, SimulationOutput::png}) {
    o.output = output;
    CHECK_THROWS_AS(simulate_tissue(dir.file(output == SimulationOutput::png ? "c" : "c.imzML"), o), Cancelled);
  }
  CHECK(folder_bytes(dir.path) == before);
  std::size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) entries += e.path().filename().string().find(".partial") != std::string::npos;
  CHECK(entries == 0);
}

TEST_CASE("simulate_tissue: invalid options throw InvalidArgument naming the field", "[msi][simulate]") {
  auto expect = [](auto change, const std::string& field) {
    SimulatedTissueOptions o;
    change(o);
    expect_error<InvalidArgument>([&] { simulate_tissue_truth(o); }, {field});
  };
  expect([](auto& o) { o.width = 4; }, "width");
  expect([](auto& o) { o.height = 70000; }, "height");
  expect([](auto& o) { o.n_molecules = 0; }, "n_molecules");
  expect([](auto& o) { o.n_regions = 0; }, "n_regions");
  expect([](auto& o) { o.max_isotopes = 1; }, "max_isotopes");
  expect([](auto& o) { o.mz_max = 300; }, "mz_max");
  expect([](auto& o) { o.resolving_power = NAN; }, "resolving_power");
  expect([](auto& o) { o.noise = 2; }, "noise");
  expect([](auto& o) { o.hotspot_fraction = -1; }, "hotspot_fraction");
  expect([](auto& o) { o.detection_limit = 11; }, "detection_limit");
  expect([](auto& o) { o.shoulder_offset = 3; }, "shoulder_offset");
  expect([](auto& o) { o.n_shoulder_pairs = 30; }, "n_shoulder_pairs");
  expect([](auto& o) { o.num_threads = -1; }, "num_threads");
  expect([](auto& o) { o.n_molecules = 3000, o.mz_max = 420; }, "too crowded");
  expect_error<InvalidArgument>([] { parse_simulation_output("tiff"); }, {"tiff"});
  ScratchDir dir("simulate_invalid");
  expect_error<InvalidArgument>([&] { simulate_tissue(dir.file("x.txt"), SimulatedTissueOptions{}); }, {".imzML"});
}

TEST_CASE("write_truth_json: valid JSON with every field; NaN and inf become null", "[msi][simulate][json]") {
  ScratchDir dir("simulate_json");
  SimulatedTissueOptions o;
  o.width = o.height = 16;
  o.n_molecules = 6;
  o.seed = 3;
  auto truth = simulate_tissue_truth(o);
  REQUIRE(truth.n_ions() >= 3);
  truth.abundance[0] = std::numeric_limits<double>::quiet_NaN();
  truth.abundance[1] = std::numeric_limits<double>::infinity();
  truth.options.mz_min = std::numeric_limits<double>::quiet_NaN();
  const auto path = dir.file("t_truth.json");
  write_truth_json(truth, path, dir.file("t.imzML"));
  const std::string text = read_text(path);
  CHECK(text.find("nan") == std::string::npos);
  CHECK(text.find("inf") == std::string::npos);
  const auto j = nlohmann::json::parse(text);  // strict RFC 8259: throws on a bare nan
  CHECK(j.at("format") == "spatialembed.simulated_tissue");
  CHECK(j.at("version") == 1);
  CHECK(j.at("output").at("path") == "t.imzML");
  CHECK(j.at("output").at("n_ions") == truth.n_ions());
  CHECK(j.at("output").at("n_measured") ==
        static_cast<std::size_t>(std::count(truth.mask.begin(), truth.mask.end(), 1)));
  CHECK(j.at("options").at("mz_min").is_null());
  CHECK(j.at("options").at("seed") == 3);
  CHECK(j.at("options").at("output") == "processed");
  CHECK(j.at("options").size() == 28);
  const auto& ions = j.at("ions");
  CHECK(ions.at("abundance").at(0).is_null());
  CHECK(ions.at("abundance").at(1).is_null());
  for (std::size_t k = 2; k < truth.n_ions(); ++k) CHECK(ions.at("abundance").at(k).get<double>() == truth.abundance[k]);
  for (std::size_t k = 0; k < truth.n_ions(); ++k) {
    CHECK(ions.at("mz").at(k).get<double>() == truth.mz[k]);  // round trip, exactly
    CHECK(ions.at("kind").at(k) == to_string(truth.kind[k]));
    CHECK(ions.at("pattern").at(k) == truth.pattern[k]);
  }
  REQUIRE(j.at("patterns").size() == truth.patterns.size());
  for (std::size_t i = 0; i < truth.patterns.size(); ++i) {
    CHECK(j.at("patterns").at(i).at("id") == i);
    CHECK(j.at("patterns").at(i).at("n_ions") == truth.patterns[i].n_ions);
  }
  CHECK(j.at("molecules").at("mz").size() == truth.molecule_mz.size());
  // Keys stay in the documented order.
  std::vector<std::string> keys;
  const auto ordered = nlohmann::ordered_json::parse(text);
  for (const auto& item : ordered.items()) keys.push_back(item.key());
  CHECK(keys == std::vector<std::string>{"format", "version", "output", "options", "ions", "patterns", "molecules"});
}
