// simulate_tissue's writers: imzML (processed, continuous) one batch of spectra at a time,
// PNG one ion image per thread at a time, the truth JSON; all of them staged by OutputStaging
// (common/output_staging.hpp) under temporary names renamed only when everything was written.

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "msi/simulated_tissue_detail.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/output_staging.hpp"
#include "spatialembed/common/parallel.hpp"
#include "spatialembed/common/random.hpp"
#include "spatialembed/msi/imzml_writer.hpp"
#include "spatialembed/msi/ion_image_stack.hpp"
#include "spatialembed/msi/simulated_tissue.hpp"

namespace spatialembed {

namespace {

namespace fs = std::filesystem;

void report(const ProgressCallback& progress, std::size_t done, std::size_t total) {
  if (progress && !progress(done, total)) throw Cancelled("simulate_tissue: cancelled by the progress callback");
}

// ------------------------------------------------------------------------ imzML

// The continuous mode's shared axis: only where the peaks are (±peak_window FWHM), with
// points_per_fwhm points per FWHM and each peak's exact m/z as a point (its apex), and for
// every axis point the Gaussian weights of the peaks that reach it (a sparse matrix).
struct ProfileAxis {
  std::vector<double> mz;
  std::vector<std::size_t> start;  // contributions of point j: [start[j], start[j + 1])
  std::vector<std::uint32_t> ion;
  std::vector<double> weight;
};

ProfileAxis profile_axis(const SimulatedTissueTruth& t) {
  const auto& o = t.options;
  const double four_ln2 = 4 * std::log(2.0);
  ProfileAxis axis;
  axis.start.push_back(0);
  std::size_t k = 0;
  while (k < t.n_ions()) {
    // The run of peaks whose windows overlap (shoulder pairs, close isotopes at low R).
    std::size_t end = k + 1;
    double lo = t.mz[k] * (1 - o.peak_window / o.resolving_power);
    double hi = t.mz[k] * (1 + o.peak_window / o.resolving_power);
    while (end < t.n_ions() && t.mz[end] * (1 - o.peak_window / o.resolving_power) <= hi) {
      hi = t.mz[end] * (1 + o.peak_window / o.resolving_power);
      ++end;
    }
    const double step = lo / o.resolving_power / o.points_per_fwhm;
    const auto n = static_cast<std::size_t>(std::ceil((hi - lo) / step));
    std::vector<double> points;
    for (std::size_t i = 0; i <= n; ++i) points.push_back(lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(n));
    for (std::size_t j = k; j < end; ++j) points.push_back(t.mz[j]);
    std::sort(points.begin(), points.end());
    for (double x : points) {
      // A grid point closer than a quarter step to an apex would only duplicate it.
      if (!axis.mz.empty() && x - axis.mz.back() < 0.25 * step) {
        const bool apex = std::binary_search(t.mz.begin() + static_cast<std::ptrdiff_t>(k),
                                             t.mz.begin() + static_cast<std::ptrdiff_t>(end), x);
        if (!apex) continue;
        axis.mz.pop_back();
        axis.start.pop_back();
        axis.ion.resize(axis.start.back());
        axis.weight.resize(axis.start.back());
      }
      axis.mz.push_back(x);
      for (std::size_t j = k; j < end; ++j) {
        const double fwhm = t.mz[j] / o.resolving_power, d = (x - t.mz[j]) / fwhm;
        if (std::abs(d) > o.peak_window) continue;
        axis.ion.push_back(static_cast<std::uint32_t>(j));
        axis.weight.push_back(std::exp(-four_ln2 * d * d));
      }
      axis.start.push_back(axis.ion.size());
    }
    k = end;
  }
  return axis;
}

std::string uuid_from_seed(std::uint64_t seed) {
  Rng rng(seed, 0x5555);
  return fmt::format("{:016x}{:016x}", rng(), rng());
}

// One spectrum's arrays, filled by a worker and written by the calling thread.
struct SpectrumSlot {
  std::vector<double> mz, intensity, levels, ions;
};

void fill_spectrum(const SimulatedTissueTruth& t, const ProfileAxis* axis, std::size_t p, SpectrumSlot& s) {
  sim_detail::pixel_intensities(t, p, s.levels, s.ions);
  s.mz.clear();
  s.intensity.clear();
  if (axis == nullptr) {  // centroid: the ions present, zeros (also after float32 rounding) omitted
    for (std::size_t k = 0; k < s.ions.size(); ++k) {
      if (static_cast<float>(s.ions[k]) > 0.0f) s.mz.push_back(t.mz[k]), s.intensity.push_back(s.ions[k]);
    }
    return;
  }
  s.intensity.assign(axis->mz.size(), 0.0);
  for (std::size_t j = 0; j < axis->mz.size(); ++j) {
    double v = 0;
    for (std::size_t c = axis->start[j]; c < axis->start[j + 1]; ++c) v += axis->weight[c] * s.ions[axis->ion[c]];
    s.intensity[j] = v;
  }
}

void write_imzml(const SimulatedTissueTruth& t, const fs::path& path) {
  const auto& o = t.options;
  const bool continuous = o.output == SimulationOutput::continuous;
  ImzMLWriterOptions wo;
  wo.mode = continuous ? ImzMLMode::continuous : ImzMLMode::processed;
  wo.centroid = !continuous;
  wo.pixel_size_x = wo.pixel_size_y = o.pixel_size;
  wo.uuid = uuid_from_seed(o.seed);  // a random UUID would make runs differ byte for byte
  ImzMLWriter writer(path.string(), wo);
  ProfileAxis axis;
  if (continuous) axis = profile_axis(t);

  std::vector<std::size_t> pixels;
  for (std::size_t p = 0; p < t.n_pixels(); ++p) {
    if (t.mask[p]) pixels.push_back(p);
  }
  const std::size_t values = continuous ? axis.mz.size() + t.n_ions() : 2 * t.n_ions();
  const std::size_t batch = std::clamp<std::size_t>((std::size_t{1} << 23) / std::max<std::size_t>(1, values), 16, 4096);
  std::vector<SpectrumSlot> slots(std::min(batch, pixels.size()));
  for (std::size_t begin = 0; begin < pixels.size(); begin += batch) {
    const std::size_t n = std::min(batch, pixels.size() - begin);
    parallel_for(n, o.num_threads, [&](std::size_t i) { fill_spectrum(t, continuous ? &axis : nullptr, pixels[begin + i], slots[i]); }, 4);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t p = pixels[begin + i];
      const PixelCoordinate c{static_cast<std::int32_t>(p % t.width + 1), static_cast<std::int32_t>(p / t.width + 1), 1};
      // Continuous mode: the shared axis goes with the first spectrum only.
      VectorView<const double> mz;
      if (!continuous) {
        mz = VectorView<const double>(slots[i].mz);
      } else if (begin + i == 0) {
        mz = VectorView<const double>(axis.mz);
      }
      writer.add_spectrum(c, mz, VectorView<const double>(slots[i].intensity));
    }
    report(o.progress, begin + n, pixels.size());
  }
  writer.close();
}

// ------------------------------------------------------------------------ PNG

void write_png_folder(SimulatedTissueTruth& t, const fs::path& folder) {
  std::error_code ec;
  fs::create_directory(folder, ec);
  SPATIALEMBED_CHECK(!ec, IOError, "{}: cannot create the folder: {}", folder.string(), ec.message());
  const auto& o = t.options;
  t.png_max.assign(t.n_ions(), 0.0);
  // Batches of a few images per thread let the calling thread report progress in between.
  const std::size_t batch = 4 * static_cast<std::size_t>(resolve_num_threads(o.num_threads));
  for (std::size_t begin = 0; begin < t.n_ions(); begin += batch) {
    const std::size_t n = std::min(batch, t.n_ions() - begin);
    parallel_for(n, o.num_threads, [&](std::size_t i) {
      const std::size_t k = begin + i;
      std::vector<float> level, image;
      sim_detail::ion_image(t, k, level, image);
      const float maximum = *std::max_element(image.begin(), image.end());
      t.png_max[k] = maximum;
      if (maximum > 0) {
        for (float& v : image) v /= maximum;
      }
      write_png_image((folder / png_file_name(t.mz[k])).string(), image.data(), t.mask.data(), t.height, t.width, 16, true);
    }, 1);
    report(o.progress, begin + n, t.n_ions());
  }
}

// ------------------------------------------------------------------------ JSON

// Keys in the order written (nlohmann's ordered_json); NaN and inf are written as null.
using Json = nlohmann::ordered_json;

Json json_options(const SimulatedTissueOptions& o) {
  return Json{{"width", o.width},
              {"height", o.height},
              {"n_molecules", o.n_molecules},
              {"n_ion_images", o.n_ion_images},
              {"n_regions", o.n_regions},
              {"n_nodules", o.n_nodules},
              {"n_layers", o.n_layers},
              {"n_gradients", o.n_gradients},
              {"nodule_radius", o.nodule_radius},
              {"min_isotopes", o.min_isotopes},
              {"max_isotopes", o.max_isotopes},
              {"isotope_spacing", o.isotope_spacing},
              {"mz_min", o.mz_min},
              {"mz_max", o.mz_max},
              {"resolving_power", o.resolving_power},
              {"min_peak_separation", o.min_peak_separation},
              {"n_shoulder_pairs", o.n_shoulder_pairs},
              {"shoulder_offset", o.shoulder_offset},
              {"points_per_fwhm", o.points_per_fwhm},
              {"peak_window", o.peak_window},
              {"intensity_scale", o.intensity_scale},
              {"noise", o.noise},
              {"detection_limit", o.detection_limit},
              {"hotspot_fraction", o.hotspot_fraction},
              {"tissue_mask", o.tissue_mask},
              {"pixel_size", o.pixel_size},
              {"output", to_string(o.output)},
              {"seed", o.seed}};
}

}  // namespace

void write_truth_json(const SimulatedTissueTruth& t, const std::string& json_path, const std::string& output_path) {
  Json x;
  x["format"] = "spatialembed.simulated_tissue";
  x["version"] = 1;
  x["output"] = Json{{"path", fs::path(output_path).filename().string()},
                     {"mode", to_string(t.options.output)},
                     {"width", t.width},
                     {"height", t.height},
                     {"n_measured", static_cast<std::size_t>(std::count(t.mask.begin(), t.mask.end(), 1))},
                     {"n_ions", t.n_ions()},
                     {"n_molecules", t.molecule_mz.size()},
                     {"n_patterns", t.patterns.size()}};
  x["options"] = json_options(t.options);
  std::vector<std::string> kinds;
  for (const auto k : t.kind) kinds.push_back(to_string(k));
  Json& ions = x["ions"];
  ions["mz"] = t.mz;
  ions["molecule"] = t.molecule;
  ions["isotope"] = t.isotope;
  ions["pattern"] = t.pattern;
  ions["kind"] = kinds;
  ions["shoulder"] = t.shoulder;
  ions["abundance"] = t.abundance;
  if (!t.png_max.empty()) ions["png_max"] = t.png_max;
  Json& patterns = x["patterns"] = Json::array();
  for (std::size_t i = 0; i < t.patterns.size(); ++i) {
    const auto& p = t.patterns[i];
    patterns.push_back(Json{{"id", i},
                            {"kind", to_string(p.kind)},
                            {"region", p.region},
                            {"nodule", p.nodule},
                            {"layer", p.layer},
                            {"gradient", p.gradient},
                            {"n_pixels", p.n_pixels},
                            {"n_ions", p.n_ions}});
  }
  x["molecules"] = Json{{"mz", t.molecule_mz}, {"pattern", t.molecule_pattern}, {"shoulder", t.molecule_shoulder}};
  // Replace invalid UTF-8 in names (a path) instead of throwing.
  const std::string text = x.dump(1, ' ', false, Json::error_handler_t::replace) + "\n";
  std::FILE* f = std::fopen(json_path.c_str(), "wb");
  SPATIALEMBED_CHECK(f, IOError, "{}: cannot create: {}", json_path, std::strerror(errno));
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const bool closed = std::fclose(f) == 0;
  SPATIALEMBED_CHECK(written && closed, IOError, "{}: write failed: {}", json_path, std::strerror(errno));
}

SimulatedTissueTruth simulate_tissue(const std::string& path, const SimulatedTissueOptions& options) {
  options.validate();
  const bool png = options.output == SimulationOutput::png;
  fs::path output = fs::path(path);
  if (!output.has_filename()) output = output.parent_path();  // "folder/" names the folder
  SPATIALEMBED_CHECK(!output.empty(), InvalidArgument, "path must name an output, got \"{}\"", path);
  std::string ext = output.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  SPATIALEMBED_CHECK(png || ext == ".imzml", InvalidArgument, "path must end in .imzML for output \"{}\", got {}",
                     to_string(options.output), path);
  const fs::path stem = png ? output : output.parent_path() / output.stem();
  const fs::path truth_path = stem.string() + "_truth.json";
  if (!output.parent_path().empty()) {
    std::error_code ec;
    fs::create_directories(output.parent_path(), ec);
    SPATIALEMBED_CHECK(!ec, IOError, "{}: cannot create the folder: {}", output.parent_path().string(), ec.message());
  }

  OutputStaging staging(options.overwrite);  // checks each output as it is added, before any work
  const fs::path main_tmp =
      staging.add(output, png ? OutputKind::folder : OutputKind::file, png ? "" : output.extension().string());
  if (!png) staging.add(stem.string() + ".ibd", OutputKind::file, ".ibd");
  const fs::path truth_tmp = staging.add(truth_path, OutputKind::file);

  auto truth = simulate_tissue_truth(options);
  truth.options.progress = options.progress;  // the writers report through it
  if (png) {
    write_png_folder(truth, main_tmp);
  } else {
    write_imzml(truth, main_tmp);
  }
  truth.options.progress = nullptr;
  write_truth_json(truth, truth_tmp.string(), output.string());
  staging.commit();
  return truth;
}

}  // namespace spatialembed
