#include "spatialembed/msi/simulated_tissue.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "msi/simulated_tissue_detail.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/random.hpp"

namespace spatialembed {

namespace {

constexpr double kPi = 3.14159265358979323846;

// True when lo ≤ v ≤ hi; false for NaN, so one comparison also rejects NaN options.
bool within(double v, double lo, double hi) { return v >= lo && v <= hi; }

}  // namespace

const char* to_string(SimulationOutput output) {
  switch (output) {
    case SimulationOutput::processed: return "processed";
    case SimulationOutput::continuous: return "continuous";
    case SimulationOutput::png: return "png";
  }
  return "";
}

SimulationOutput parse_simulation_output(const std::string& name) {
  if (name == "processed") return SimulationOutput::processed;
  if (name == "continuous") return SimulationOutput::continuous;
  if (name == "png") return SimulationOutput::png;
  throw InvalidArgument(fmt::format("output must be \"processed\", \"continuous\" or \"png\", got \"{}\"", name));
}

const char* to_string(PatternKind kind) {
  switch (kind) {
    case PatternKind::region: return "region";
    case PatternKind::region_nodule: return "region_nodule";
    case PatternKind::nodule: return "nodule";
    case PatternKind::layer: return "layer";
    case PatternKind::gradient: return "gradient";
  }
  return "";
}

void SimulatedTissueOptions::validate() const {
  SPATIALEMBED_CHECK(width >= 8 && width <= 65535, InvalidArgument, "width must be in [8, 65535] pixels, got {}", width);
  SPATIALEMBED_CHECK(height >= 8 && height <= 65535, InvalidArgument, "height must be in [8, 65535] pixels, got {}", height);
  SPATIALEMBED_CHECK(width * height <= (std::size_t{1} << 31), InvalidArgument,
                     "width x height must be at most 2^31 pixels, got {} x {}", width, height);
  SPATIALEMBED_CHECK(n_ion_images > 0 || (n_molecules >= 1 && n_molecules <= 10000000), InvalidArgument,
                     "n_molecules must be in [1, 10000000] (or set n_ion_images), got {}", n_molecules);
  SPATIALEMBED_CHECK(n_ion_images <= 10000000, InvalidArgument, "n_ion_images must be in [0, 10000000], got {}",
                     n_ion_images);
  SPATIALEMBED_CHECK(n_regions >= 1 && n_regions <= 1000, InvalidArgument, "n_regions must be in [1, 1000], got {}",
                     n_regions);
  SPATIALEMBED_CHECK(n_nodules <= 10000, InvalidArgument, "n_nodules must be in [0, 10000], got {}", n_nodules);
  SPATIALEMBED_CHECK(n_layers <= 1000, InvalidArgument, "n_layers must be in [0, 1000], got {}", n_layers);
  SPATIALEMBED_CHECK(n_gradients <= 100, InvalidArgument, "n_gradients must be in [0, 100], got {}", n_gradients);
  SPATIALEMBED_CHECK(within(nodule_radius, 0.5, 50), InvalidArgument, "nodule_radius must be in [0.5, 50] px, got {}",
                     nodule_radius);
  SPATIALEMBED_CHECK(min_isotopes >= 1 && min_isotopes <= 8, InvalidArgument, "min_isotopes must be in [1, 8], got {}",
                     min_isotopes);
  SPATIALEMBED_CHECK(max_isotopes >= min_isotopes && max_isotopes <= 8, InvalidArgument,
                     "max_isotopes must be in [min_isotopes = {}, 8], got {}", min_isotopes, max_isotopes);
  SPATIALEMBED_CHECK(within(isotope_spacing, 1e-3, 10), InvalidArgument, "isotope_spacing must be in [0.001, 10] Da, got {}",
                     isotope_spacing);
  SPATIALEMBED_CHECK(within(mz_min, 1e-3, 1e7), InvalidArgument, "mz_min must be in [0.001, 1e7], got {}", mz_min);
  const double span = static_cast<double>(max_isotopes - 1) * isotope_spacing;
  SPATIALEMBED_CHECK(within(mz_max, mz_min + span, 1e7) && mz_max > mz_min, InvalidArgument,
                     "mz_max must be > mz_min + (max_isotopes - 1) * isotope_spacing = {} (and <= 1e7), got {}",
                     mz_min + span, mz_max);
  SPATIALEMBED_CHECK(within(resolving_power, 100, 1e7), InvalidArgument, "resolving_power must be in [100, 1e7], got {}",
                     resolving_power);
  SPATIALEMBED_CHECK(within(min_peak_separation, 1, 100), InvalidArgument,
                     "min_peak_separation must be in [1, 100] FWHM, got {}", min_peak_separation);
  SPATIALEMBED_CHECK(n_ion_images > 0 || 2 * n_shoulder_pairs <= n_molecules, InvalidArgument,
                     "n_shoulder_pairs must be in [0, n_molecules / 2 = {}], got {}", n_molecules / 2, n_shoulder_pairs);
  SPATIALEMBED_CHECK(within(shoulder_offset, 0.05, 1), InvalidArgument, "shoulder_offset must be in [0.05, 1] FWHM, got {}",
                     shoulder_offset);
  SPATIALEMBED_CHECK(within(points_per_fwhm, 2, 100), InvalidArgument, "points_per_fwhm must be in [2, 100], got {}",
                     points_per_fwhm);
  SPATIALEMBED_CHECK(within(peak_window, 0.5, 10), InvalidArgument, "peak_window must be in [0.5, 10] FWHM, got {}",
                     peak_window);
  SPATIALEMBED_CHECK(within(intensity_scale, 1e-30, 1e30), InvalidArgument,
                     "intensity_scale must be in (0, 1e30], got {}", intensity_scale);
  SPATIALEMBED_CHECK(within(noise, 0, 1), InvalidArgument, "noise must be in [0, 1], got {}", noise);
  SPATIALEMBED_CHECK(within(detection_limit, 0, 10), InvalidArgument, "detection_limit must be in [0, 10], got {}",
                     detection_limit);
  SPATIALEMBED_CHECK(within(hotspot_fraction, 0, 0.1), InvalidArgument, "hotspot_fraction must be in [0, 0.1], got {}",
                     hotspot_fraction);
  SPATIALEMBED_CHECK(within(pixel_size, 1e-6, 1e9), InvalidArgument, "pixel_size must be in (0, 1e9] µm, got {}",
                     pixel_size);
  SPATIALEMBED_CHECK(num_threads >= 0, InvalidArgument, "num_threads must be >= 0 (0 = all cores), got {}", num_threads);
}

// ------------------------------------------------------------------------ the layout

namespace {

// Every random draw of the design comes from one sequential stream per stage, so the layout
// and the ion table never depend on num_threads.
enum Stream : std::uint64_t { kTissue = 1, kRegions, kNodules, kLayers, kGradients, kMolecules, kNoise };

struct Point {
  double x = 0, y = 0;
};

class LayoutBuilder {
 public:
  explicit LayoutBuilder(SimulatedTissueTruth& t) : t_(t), W_(t.width), H_(t.height), side_(std::min(W_, H_)) {}

  void tissue(bool use_mask, Rng rng) {
    t_.mask.assign(W_ * H_, 1);
    if (use_mask) {
      // A wobbly ellipse: real sections are roughly convex with irregular edges.
      const double a1 = 0.05 + 0.04 * rng.uniform(), a2 = 0.02 + 0.03 * rng.uniform();
      const double f1 = 2 * kPi * rng.uniform(), f2 = 2 * kPi * rng.uniform();
      const double cx = (W_ - 1) / 2.0, cy = (H_ - 1) / 2.0, rx = 0.48 * W_, ry = 0.48 * H_;
      for_each_pixel([&](std::size_t x, std::size_t y, std::size_t p) {
        const double dx = (x - cx) / rx, dy = (y - cy) / ry, theta = std::atan2(dy, dx);
        const double edge = 1 - a1 - a2 + a1 * std::sin(3 * theta + f1) + a2 * std::sin(5 * theta + f2);
        t_.mask[p] = std::hypot(dx, dy) <= edge;
      });
    }
    for (std::size_t p = 0; p < t_.mask.size(); ++p) {
      if (t_.mask[p]) inside_.push_back(p);
    }
    SPATIALEMBED_CHECK(inside_.size() >= 16, InvalidArgument, "the tissue covers only {} pixels; raise width/height",
                       inside_.size());
  }

  // Voronoi lobes partition the tissue; bands and ellipses are painted over them.
  void regions(std::size_t n, Rng rng) {
    t_.region_labels.assign(W_ * H_, -1);
    t_.texture.assign(W_ * H_, 0.0f);
    std::vector<std::size_t> lobes, bands, ellipses;
    for (std::size_t r = 0; r < n; ++r) {
      const std::size_t cycle = r < 2 ? 2 : (r - 2) % 3;
      (cycle == 2 ? lobes : cycle == 0 ? ellipses : bands).push_back(r);
    }
    paint_lobes(lobes, rng);
    for (std::size_t r : bands) paint_band(r, rng);
    for (std::size_t r : ellipses) paint_ellipse(r, rng);
    paint_textures(n, rng);
  }

  void nodules(std::size_t n, double mean_radius, Rng rng) {
    t_.nodule_labels.assign(W_ * H_, -1);
    t_.nodule_profile.assign(W_ * H_, 0.0f);
    std::vector<std::pair<Point, double>> placed;
    std::int32_t id = 0;
    for (std::size_t i = 0; i < n; ++i) {
      for (int attempt = 0; attempt < 200; ++attempt) {
        const double radius = mean_radius * (0.6 + 0.6 * rng.uniform());
        const Point c = random_inside(rng);
        const bool apart = std::all_of(placed.begin(), placed.end(), [&](const auto& q) {
          return std::hypot(c.x - q.first.x, c.y - q.first.y) > radius + q.second + 2;
        });
        if (!apart) continue;
        placed.emplace_back(c, radius);
        paint_disc(id++, c, radius);
        break;
      }
    }
  }

  void layers(std::size_t n, Rng rng) {
    t_.layer_labels.assign(W_ * H_, -1);
    for (std::size_t l = 0; l < n; ++l) {
      const double half_width = rng.uniform() < 0.5 ? 0.5 : 1.0;  // 1 or 2 px wide
      if (l % 2 == 0) {
        paint_ring(static_cast<std::int32_t>(l), half_width, rng);
      } else {
        paint_curve(static_cast<std::int32_t>(l), half_width, rng);
      }
    }
  }

  void gradients(std::size_t n, Rng rng) {
    for (std::size_t g = 0; g < n; ++g) {
      const double theta = 2 * kPi * rng.uniform(), c = std::cos(theta), s = std::sin(theta);
      double lo = 0, hi = 0;  // the projection's range over the canvas corners
      for (double x : {0.0, W_ - 1.0}) {
        for (double y : {0.0, H_ - 1.0}) {
          const double v = c * x + s * y;
          lo = std::min(lo, v), hi = std::max(hi, v);
        }
      }
      const double scale = 0.75 / (hi - lo);
      t_.gradient_params.insert(t_.gradient_params.end(), {c * scale, s * scale, 0.25 - lo * scale});
    }
  }

 private:
  template <class F>
  void for_each_pixel(F&& f) const {
    for (std::size_t y = 0; y < H_; ++y) {
      for (std::size_t x = 0; x < W_; ++x) f(x, y, y * W_ + x);
    }
  }

  Point random_inside(Rng& rng) const {
    const std::size_t p = inside_[rng.below(inside_.size())];
    return {static_cast<double>(p % W_) + rng.uniform() - 0.5, static_cast<double>(p / W_) + rng.uniform() - 0.5};
  }

  void paint_lobes(const std::vector<std::size_t>& lobes, Rng& rng) {
    std::vector<Point> seeds;
    for (std::size_t i = 0; i < lobes.size(); ++i) seeds.push_back(random_inside(rng));
    // A sinusoidal warp of the coordinates bends the straight Voronoi edges into lobes.
    const double amplitude = 0.05 * side_, wavelength = (0.25 + 0.25 * rng.uniform()) * side_;
    const double phase = 2 * kPi * rng.uniform();
    for (std::size_t p : inside_) {
      const double x = static_cast<double>(p % W_), y = static_cast<double>(p / W_);
      const double wx = x + amplitude * std::sin(2 * kPi * y / wavelength + phase);
      const double wy = y + amplitude * std::sin(2 * kPi * x / wavelength + 2 * phase);
      double best = INFINITY;
      for (std::size_t i = 0; i < seeds.size(); ++i) {
        const double d = (wx - seeds[i].x) * (wx - seeds[i].x) + (wy - seeds[i].y) * (wy - seeds[i].y);
        if (d < best) best = d, t_.region_labels[p] = static_cast<std::int32_t>(lobes[i]);
      }
    }
  }

  void paint_band(std::size_t r, Rng& rng) {
    const Point c = random_inside(rng);
    const double theta = kPi * rng.uniform(), half = std::max(1.0, (0.03 + 0.03 * rng.uniform()) * side_);
    const double nx = -std::sin(theta), ny = std::cos(theta);
    for (std::size_t p : inside_) {
      const double x = static_cast<double>(p % W_), y = static_cast<double>(p / W_);
      if (std::abs((x - c.x) * nx + (y - c.y) * ny) <= half) t_.region_labels[p] = static_cast<std::int32_t>(r);
    }
  }

  void paint_ellipse(std::size_t r, Rng& rng) {
    const Point c = random_inside(rng);
    const double a = std::max(2.0, (0.08 + 0.1 * rng.uniform()) * side_);
    const double b = std::max(2.0, (0.08 + 0.1 * rng.uniform()) * side_);
    const double theta = kPi * rng.uniform(), co = std::cos(theta), si = std::sin(theta);
    for (std::size_t p : inside_) {
      const double dx = static_cast<double>(p % W_) - c.x, dy = static_cast<double>(p / W_) - c.y;
      const double u = (dx * co + dy * si) / a, v = (-dx * si + dy * co) / b;
      if (u * u + v * v <= 1) t_.region_labels[p] = static_cast<std::int32_t>(r);
    }
  }

  // A smooth level in [0.6, 1] per region, so region images are not flat masks (and the
  // ions of one region share that structure).
  void paint_textures(std::size_t n, Rng& rng) {
    std::vector<double> waves(6 * n);
    for (auto& w : waves) w = rng.uniform();
    for (std::size_t p : inside_) {
      const std::size_t r = static_cast<std::size_t>(t_.region_labels[p]);
      const double x = static_cast<double>(p % W_), y = static_cast<double>(p / W_);
      double f = 0;
      for (int k = 0; k < 2; ++k) {
        const double* w = &waves[6 * r + 3 * k];
        const double theta = 2 * kPi * w[0], wavelength = (0.3 + 0.7 * w[1]) * side_;
        f += std::cos(2 * kPi * (x * std::cos(theta) + y * std::sin(theta)) / wavelength + 2 * kPi * w[2]);
      }
      t_.texture[p] = static_cast<float>(0.8 + 0.1 * f);
    }
  }

  void paint_disc(std::int32_t id, Point c, double radius) {
    const auto x0 = static_cast<std::ptrdiff_t>(std::floor(c.x - radius)), x1 = static_cast<std::ptrdiff_t>(std::ceil(c.x + radius));
    const auto y0 = static_cast<std::ptrdiff_t>(std::floor(c.y - radius)), y1 = static_cast<std::ptrdiff_t>(std::ceil(c.y + radius));
    for (std::ptrdiff_t y = std::max<std::ptrdiff_t>(0, y0); y <= std::min<std::ptrdiff_t>(H_ - 1, y1); ++y) {
      for (std::ptrdiff_t x = std::max<std::ptrdiff_t>(0, x0); x <= std::min<std::ptrdiff_t>(W_ - 1, x1); ++x) {
        const double d = std::hypot(x - c.x, y - c.y) / radius;
        const std::size_t p = static_cast<std::size_t>(y) * W_ + static_cast<std::size_t>(x);
        if (d > 1 || !t_.mask[p]) continue;
        t_.nodule_labels[p] = id;
        t_.nodule_profile[p] = static_cast<float>(1 - 0.5 * d * d);
      }
    }
  }

  void paint_ring(std::int32_t id, double half_width, Rng& rng) {
    const Point c = random_inside(rng);
    const double radius = (0.1 + 0.2 * rng.uniform()) * side_;
    for (std::size_t p : inside_) {
      const double d = std::hypot(static_cast<double>(p % W_) - c.x, static_cast<double>(p / W_) - c.y);
      if (std::abs(d - radius) <= half_width) t_.layer_labels[p] = id;
    }
  }

  // A sinusoidal line across the tissue (e.g. a membrane or a vessel wall in section).
  void paint_curve(std::int32_t id, double half_width, Rng& rng) {
    const Point c = random_inside(rng);
    const double theta = kPi * rng.uniform(), tx = std::cos(theta), ty = std::sin(theta);
    const double amplitude = (0.02 + 0.06 * rng.uniform()) * side_, wavelength = (0.3 + 0.5 * rng.uniform()) * side_;
    const double phase = 2 * kPi * rng.uniform();
    for (std::size_t p : inside_) {
      const double dx = static_cast<double>(p % W_) - c.x, dy = static_cast<double>(p / W_) - c.y;
      const double along = dx * tx + dy * ty, across = -dx * ty + dy * tx;
      const double centre = amplitude * std::sin(2 * kPi * along / wavelength + phase);
      // Distance measured across the curve's local direction keeps it 1–2 px wide on slopes.
      const double slope = amplitude * 2 * kPi / wavelength * std::cos(2 * kPi * along / wavelength + phase);
      if (std::abs(across - centre) / std::sqrt(1 + slope * slope) <= half_width) t_.layer_labels[p] = id;
    }
  }

  SimulatedTissueTruth& t_;
  std::size_t W_, H_;
  double side_;
  std::vector<std::size_t> inside_;
};

// ------------------------------------------------------------------------ patterns, molecules, ions

std::vector<std::size_t> count_labels(const std::vector<std::int32_t>& labels, const std::vector<std::uint8_t>& mask,
                                      std::size_t n) {
  std::vector<std::size_t> counts(n, 0);
  for (std::size_t p = 0; p < labels.size(); ++p) {
    if (labels[p] >= 0 && mask[p]) ++counts[static_cast<std::size_t>(labels[p])];
  }
  return counts;
}

// One pattern per region, region + nodule combination, nodule, layer and gradient that has
// pixels; the weight is how likely a molecule (beyond one per pattern) gets it: nodule-only
// patterns are rare so that only a few ions share them.
void make_patterns(SimulatedTissueTruth& t, const SimulatedTissueOptions& o, std::vector<double>& weights, Rng& rng) {
  const auto regions = count_labels(t.region_labels, t.mask, o.n_regions);
  const auto nodules = count_labels(t.nodule_labels, t.mask, o.n_nodules);
  const auto layers = count_labels(t.layer_labels, t.mask, o.n_layers);
  std::vector<std::int32_t> live_regions;
  auto add = [&](SimulatedPattern p, std::size_t pixels, double weight) {
    p.n_pixels = pixels;
    t.patterns.push_back(p);
    weights.push_back(weight);
  };
  for (std::size_t r = 0; r < regions.size(); ++r) {
    if (regions[r] == 0) continue;
    live_regions.push_back(static_cast<std::int32_t>(r));
    SimulatedPattern p;
    p.kind = PatternKind::region, p.region = static_cast<std::int32_t>(r);
    add(p, regions[r], 4.0);
  }
  // Each nodule's companion region; a nodule inside it adds no pixels to the pattern.
  std::vector<std::int32_t> companion(nodules.size(), -1);
  for (std::size_t n = 0; n < nodules.size(); ++n) {
    if (nodules[n] > 0) companion[n] = live_regions[rng.below(live_regions.size())];
  }
  std::vector<std::size_t> overlap(nodules.size(), 0);
  for (std::size_t q = 0; q < t.mask.size(); ++q) {
    const std::int32_t n = t.nodule_labels[q];
    if (n >= 0 && t.mask[q] && t.region_labels[q] == companion[static_cast<std::size_t>(n)]) ++overlap[static_cast<std::size_t>(n)];
  }
  for (std::size_t n = 0; n < nodules.size(); ++n) {
    if (nodules[n] == 0) continue;
    SimulatedPattern p;
    p.kind = PatternKind::region_nodule, p.nodule = static_cast<std::int32_t>(n), p.region = companion[n];
    add(p, regions[static_cast<std::size_t>(p.region)] + nodules[n] - overlap[n], 1.5);
  }
  for (std::size_t n = 0; n < nodules.size(); ++n) {
    if (nodules[n] == 0) continue;
    SimulatedPattern p;
    p.kind = PatternKind::nodule, p.nodule = static_cast<std::int32_t>(n);
    add(p, nodules[n], 1.0);
  }
  for (std::size_t l = 0; l < layers.size(); ++l) {
    if (layers[l] == 0) continue;
    SimulatedPattern p;
    p.kind = PatternKind::layer, p.layer = static_cast<std::int32_t>(l);
    add(p, layers[l], 1.5);
  }
  const std::size_t measured = static_cast<std::size_t>(std::count(t.mask.begin(), t.mask.end(), 1));
  for (std::size_t g = 0; g < o.n_gradients; ++g) {
    SimulatedPattern p;
    p.kind = PatternKind::gradient, p.gradient = static_cast<std::int32_t>(g);
    add(p, measured, 2.0);
  }
}

// Isotope-peak counts per molecule: n_molecules of them, or as many as make n_ion_images.
std::vector<std::size_t> isotope_counts(const SimulatedTissueOptions& o, Rng& rng) {
  auto draw = [&] { return o.min_isotopes + rng.below(o.max_isotopes - o.min_isotopes + 1); };
  std::vector<std::size_t> counts;
  if (o.n_ion_images == 0) {
    for (std::size_t m = 0; m < o.n_molecules; ++m) counts.push_back(draw());
    return counts;
  }
  std::size_t total = 0;
  while (total < o.n_ion_images) {
    counts.push_back(std::min(draw(), o.n_ion_images - total));
    total += counts.back();
  }
  return counts;
}

// Fisher–Yates with Rng::below: std::shuffle's algorithm differs between standard libraries,
// and the same seed should give the same section everywhere.
template <class T>
void shuffle(std::vector<T>& values, Rng& rng) {
  for (std::size_t i = values.size(); i > 1; --i) std::swap(values[i - 1], values[rng.below(i)]);
}

// Every pattern gets one molecule first (while molecules last), the rest by weight; the two
// molecules of each shoulder pair (molecules 2j, 2j+1) get different patterns.
std::vector<std::int32_t> assign_patterns(std::size_t n_molecules, std::size_t n_pairs, const std::vector<double>& weights,
                                          Rng& rng) {
  const std::size_t n_patterns = weights.size();
  std::vector<std::int32_t> order(n_patterns);
  for (std::size_t i = 0; i < n_patterns; ++i) order[i] = static_cast<std::int32_t>(i);
  shuffle(order, rng);
  double total = 0;
  for (double w : weights) total += w;
  std::vector<std::int32_t> assigned(n_molecules);
  for (std::size_t m = 0; m < n_molecules; ++m) {
    if (m < n_patterns) {
      assigned[m] = order[m];
      continue;
    }
    double u = rng.uniform() * total;
    std::size_t k = 0;
    while (k + 1 < n_patterns && u >= weights[k]) u -= weights[k++];
    assigned[m] = static_cast<std::int32_t>(k);
  }
  shuffle(assigned, rng);
  for (std::size_t j = 0; j < n_pairs; ++j) {
    const std::size_t a = 2 * j, b = 2 * j + 1;
    if (assigned[a] != assigned[b]) continue;
    // Swapping with a molecule of another pattern keeps every pattern covered.
    for (std::size_t m = 0; m < n_molecules; ++m) {
      if (m / 2 != j && assigned[m] != assigned[a] && (m >= 2 * n_pairs || assigned[m ^ 1] != assigned[a])) {
        std::swap(assigned[b], assigned[m]);
        break;
      }
    }
    SPATIALEMBED_CHECK(assigned[a] != assigned[b], InvalidArgument,
                       "n_shoulder_pairs = {} needs molecules of at least two patterns", n_pairs);
  }
  return assigned;
}

// Places the peaks of molecules (and of shoulder pairs, together) at least min_peak_separation
// FWHM from every other molecule's peaks, by rejection sampling.
class MzPlacer {
 public:
  explicit MzPlacer(const SimulatedTissueOptions& o) : o_(o) {}

  bool free(const std::vector<double>& peaks) const {
    for (double m : peaks) {
      const double gap = o_.min_peak_separation * m / o_.resolving_power * 1.0001;
      const auto it = placed_.lower_bound(m - gap);
      if (it != placed_.end() && *it <= m + gap) return false;
    }
    return true;
  }

  // Monoisotopic m/z for a molecule of n peaks, with its shoulder partner's n_partner peaks
  // at +shoulder_offset FWHM when n_partner > 0.
  double place(std::size_t n, std::size_t n_partner, Rng& rng) {
    const double span = static_cast<double>(std::max(n, n_partner) - 1) * o_.isotope_spacing;
    const double hi = o_.mz_max - span - o_.shoulder_offset * o_.mz_max / o_.resolving_power;
    for (int attempt = 0; attempt < 10000; ++attempt) {
      const double mono = o_.mz_min + (hi - o_.mz_min) * rng.uniform();
      std::vector<double> peaks;
      for (std::size_t i = 0; i < n; ++i) peaks.push_back(mono + static_cast<double>(i) * o_.isotope_spacing);
      const double shift = o_.shoulder_offset * mono / o_.resolving_power;
      for (std::size_t i = 0; i < n_partner; ++i) peaks.push_back(mono + shift + static_cast<double>(i) * o_.isotope_spacing);
      if (!free(peaks)) continue;
      placed_.insert(peaks.begin(), peaks.end());
      return mono;
    }
    throw InvalidArgument(fmt::format(
        "the m/z range [{}, {}] is too crowded to place {} more peaks {} FWHM apart at resolving_power {} ({} placed): "
        "widen mz_min..mz_max, raise resolving_power or lower min_peak_separation",
        o_.mz_min, o_.mz_max, n + n_partner, o_.min_peak_separation, o_.resolving_power, placed_.size()));
  }

 private:
  const SimulatedTissueOptions& o_;
  std::set<double> placed_;
};

// Relative abundances of the isotope peaks: Poisson in the number of 13C atoms (about
// m/z / 14.5 carbons, 1.07 % 13C), λ capped below 1 so the envelope always decays.
std::vector<double> isotope_envelope(double mono, std::size_t n) {
  const double lambda = std::min(0.95, 0.000738 * mono);
  std::vector<double> a(n, 1.0);
  for (std::size_t i = 1; i < n; ++i) a[i] = a[i - 1] * lambda / static_cast<double>(i);
  return a;
}

struct IonRow {
  double mz, abundance;
  std::int32_t molecule, isotope;
};

void make_molecules_and_ions(SimulatedTissueTruth& t, const SimulatedTissueOptions& o, const std::vector<double>& weights,
                             Rng& rng) {
  const auto counts = isotope_counts(o, rng);
  const std::size_t M = counts.size();
  SPATIALEMBED_CHECK(2 * o.n_shoulder_pairs <= M, InvalidArgument,
                     "n_shoulder_pairs must be in [0, n_molecules / 2 = {}], got {}", M / 2, o.n_shoulder_pairs);
  const auto patterns = assign_patterns(M, o.n_shoulder_pairs, weights, rng);
  t.molecule_mz.assign(M, 0);
  t.molecule_pattern = patterns;
  t.molecule_shoulder.assign(M, -1);
  std::vector<double> abundance(M);
  MzPlacer placer(o);
  for (std::size_t m = 0; m < M; ++m) {
    abundance[m] = o.intensity_scale * std::exp(std::log(0.05) * rng.uniform());
    if (m < 2 * o.n_shoulder_pairs && m % 2 == 1) continue;  // placed with its apex molecule
    if (m < 2 * o.n_shoulder_pairs) {
      t.molecule_mz[m] = placer.place(counts[m], counts[m + 1], rng);
      t.molecule_mz[m + 1] = t.molecule_mz[m] * (1 + o.shoulder_offset / o.resolving_power);
      t.molecule_shoulder[m] = static_cast<std::int32_t>(m + 1);
      t.molecule_shoulder[m + 1] = static_cast<std::int32_t>(m);
    } else {
      t.molecule_mz[m] = placer.place(counts[m], 0, rng);
    }
  }
  // The shoulder species is the smaller one, so that it sits on the apex's flank.
  for (std::size_t j = 0; j < o.n_shoulder_pairs; ++j) abundance[2 * j + 1] = abundance[2 * j] * (0.3 + 0.4 * rng.uniform());

  std::vector<IonRow> rows;
  for (std::size_t m = 0; m < M; ++m) {
    const auto envelope = isotope_envelope(t.molecule_mz[m], counts[m]);
    for (std::size_t i = 0; i < counts[m]; ++i) {
      rows.push_back({t.molecule_mz[m] + static_cast<double>(i) * o.isotope_spacing, abundance[m] * envelope[i],
                      static_cast<std::int32_t>(m), static_cast<std::int32_t>(i)});
    }
  }
  std::sort(rows.begin(), rows.end(), [](const IonRow& a, const IonRow& b) { return a.mz < b.mz; });
  std::vector<std::int32_t> index_of(M * 8, -1);  // (molecule, isotope) → ion
  for (const auto& r : rows) {
    const auto k = static_cast<std::int32_t>(t.mz.size());
    index_of[static_cast<std::size_t>(r.molecule) * 8 + static_cast<std::size_t>(r.isotope)] = k;
    t.mz.push_back(r.mz);
    t.abundance.push_back(r.abundance);
    t.molecule.push_back(r.molecule);
    t.isotope.push_back(r.isotope);
    t.pattern.push_back(patterns[static_cast<std::size_t>(r.molecule)]);
    t.kind.push_back(t.patterns[static_cast<std::size_t>(t.pattern.back())].kind);
    ++t.patterns[static_cast<std::size_t>(t.pattern.back())].n_ions;
  }
  t.shoulder.assign(t.mz.size(), -1);
  for (std::size_t k = 0; k < t.mz.size(); ++k) {
    const std::int32_t partner = t.molecule_shoulder[static_cast<std::size_t>(t.molecule[k])];
    if (partner >= 0) t.shoulder[k] = index_of[static_cast<std::size_t>(partner) * 8 + static_cast<std::size_t>(t.isotope[k])];
  }
}

// Drops patterns no molecule got (fewer molecules than patterns) and renumbers the rest, so
// pattern ids are exactly the truth clusters.
void drop_unused_patterns(SimulatedTissueTruth& t) {
  std::vector<std::int32_t> new_id(t.patterns.size(), -1);
  std::vector<SimulatedPattern> kept;
  for (std::size_t i = 0; i < t.patterns.size(); ++i) {
    if (t.patterns[i].n_ions == 0) continue;
    new_id[i] = static_cast<std::int32_t>(kept.size());
    kept.push_back(t.patterns[i]);
  }
  t.patterns = std::move(kept);
  for (auto& p : t.pattern) p = new_id[static_cast<std::size_t>(p)];
  for (auto& p : t.molecule_pattern) p = new_id[static_cast<std::size_t>(p)];
}

// ------------------------------------------------------------------------ noise

// MurmurHash3's 64-bit finaliser: a bijective mix, so (seed, ion, pixel) keys give
// independent-looking words without any per-thread state.
inline std::uint64_t fmix64(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}

// ≈ N(0, 1) from one word: the sum of four 16-bit uniforms (Irwin–Hall), centred and scaled;
// bounded at ±√12 ≈ 3.46, so "zero outside the pattern, up to noise" has a hard bound.
inline double irwin_hall(std::uint64_t h) {
  const double s = static_cast<double>((h & 0xffff) + ((h >> 16) & 0xffff) + ((h >> 32) & 0xffff) + (h >> 48)) + 2.0;
  return (s / 65536.0 - 2.0) * 1.7320508075688772;
}

inline std::uint64_t ion_key(std::uint64_t seed, std::size_t k) {
  return fmix64(seed ^ fmix64((static_cast<std::uint64_t>(k) + 1) * 0x632BE59BD9B4E019ULL + kNoise));
}

struct NoiseModel {
  double noise, detection_limit, hotspot_fraction;
  explicit NoiseModel(const SimulatedTissueOptions& o)
      : noise(o.noise), detection_limit(o.detection_limit), hotspot_fraction(o.hotspot_fraction) {}
};

// Intensity (relative to the ion's abundance) of an ion with key `key` at pixel p, at
// noise-free level `level`.
inline double noisy_level(std::uint64_t key, std::size_t p, double level, const NoiseModel& m) {
  const std::uint64_t h1 = fmix64(key + static_cast<std::uint64_t>(p) * 0x9E3779B97F4A7C15ULL);
  const std::uint64_t h2 = fmix64(h1 ^ 0xD1B54A32D192ED03ULL);
  if (m.hotspot_fraction > 0) {
    const double u = static_cast<double>(fmix64(h2 ^ 0x8CB92BA72F3D8DD7ULL) >> 11) * 0x1.0p-53;
    if (u < m.hotspot_fraction) return 20.0 + 80.0 * (u / m.hotspot_fraction);
  }
  const double v = m.noise == 0 ? level : level * (1 + m.noise * irwin_hall(h1)) + m.noise * irwin_hall(h2);
  // Below the limit a peak picker would not report the peak; never negative.
  return v >= m.detection_limit && v > 0 ? v : 0.0;
}

}  // namespace

// ------------------------------------------------------------------------ truth

float SimulatedTissueTruth::pattern_level(std::size_t id, std::size_t p) const {
  const auto& pat = patterns[id];
  switch (pat.kind) {
    case PatternKind::region: return region_labels[p] == pat.region ? texture[p] : 0.0f;
    case PatternKind::region_nodule:
      return (region_labels[p] == pat.region ? texture[p] : 0.0f) +
             (nodule_labels[p] == pat.nodule ? 3.0f * nodule_profile[p] : 0.0f);
    case PatternKind::nodule: return nodule_labels[p] == pat.nodule ? nodule_profile[p] : 0.0f;
    case PatternKind::layer: return layer_labels[p] == pat.layer ? 1.0f : 0.0f;
    case PatternKind::gradient: {
      if (!mask[p]) return 0.0f;
      const double* g = &gradient_params[3 * static_cast<std::size_t>(pat.gradient)];
      const double v = g[0] * static_cast<double>(p % width) + g[1] * static_cast<double>(p / width) + g[2];
      return static_cast<float>(std::clamp(v, 0.25, 1.0));
    }
  }
  return 0.0f;
}

std::vector<float> SimulatedTissueTruth::pattern_map(std::size_t id) const {
  SPATIALEMBED_CHECK(id < patterns.size(), InvalidArgument, "pattern id must be in [0, {}), got {}", patterns.size(), id);
  std::vector<float> map(n_pixels());
  for (std::size_t p = 0; p < map.size(); ++p) map[p] = mask[p] ? pattern_level(id, p) : 0.0f;
  return map;
}

double SimulatedTissueTruth::intensity(std::size_t k, std::size_t p) const {
  if (!mask[p]) return 0.0;
  const double level = pattern_level(static_cast<std::size_t>(pattern[k]), p);
  return abundance[k] * noisy_level(ion_key(options.seed, k), p, level, NoiseModel(options));
}

namespace sim_detail {

void ion_image(const SimulatedTissueTruth& t, std::size_t k, std::vector<float>& level, std::vector<float>& out) {
  level = t.pattern_map(static_cast<std::size_t>(t.pattern[k]));
  out.assign(t.n_pixels(), 0.0f);
  const std::uint64_t key = ion_key(t.options.seed, k);
  const double a = t.abundance[k];
  const NoiseModel model(t.options);
  for (std::size_t p = 0; p < out.size(); ++p) {
    if (t.mask[p]) out[p] = static_cast<float>(a * noisy_level(key, p, level[p], model));
  }
}

void pixel_intensities(const SimulatedTissueTruth& t, std::size_t p, std::vector<double>& levels,
                       std::vector<double>& out) {
  levels.resize(t.patterns.size());
  for (std::size_t i = 0; i < levels.size(); ++i) levels[i] = t.pattern_level(i, p);
  out.resize(t.n_ions());
  const NoiseModel model(t.options);
  for (std::size_t k = 0; k < out.size(); ++k) {
    const double level = levels[static_cast<std::size_t>(t.pattern[k])];
    out[k] = t.abundance[k] * noisy_level(ion_key(t.options.seed, k), p, level, model);
  }
}

}  // namespace sim_detail

SimulatedTissueTruth simulate_tissue_truth(const SimulatedTissueOptions& options) {
  options.validate();
  SimulatedTissueTruth t;
  t.options = options;
  t.options.progress = nullptr;
  t.width = options.width;
  t.height = options.height;
  LayoutBuilder layout(t);
  layout.tissue(options.tissue_mask, Rng(options.seed, kTissue));
  layout.regions(options.n_regions, Rng(options.seed, kRegions));
  layout.nodules(options.n_nodules, options.nodule_radius, Rng(options.seed, kNodules));
  layout.layers(options.n_layers, Rng(options.seed, kLayers));
  layout.gradients(options.n_gradients, Rng(options.seed, kGradients));
  Rng rng(options.seed, kMolecules);
  std::vector<double> weights;
  make_patterns(t, options, weights, rng);
  make_molecules_and_ions(t, options, weights, rng);
  drop_unused_patterns(t);
  return t;
}

}  // namespace spatialembed
