#pragma once
/// @file
/// `simulate_tissue`: a reproducible simulated MSI section with ground truth — tissue regions,
/// nodules and thin layers, molecules with isotope envelopes and TOF peak shapes — written as
/// imzML (processed or continuous) or as a PNG folder of ion images, plus `<stem>_truth.json`.
///
/// The truth is the point: every ion image has a known spatial pattern (`pattern` id = the
/// cluster an ion-image clustering should find), isotopes of one molecule share it, some
/// patterns are small local structures only a few ions share (nodules, the case global methods
/// such as UMAP on raw ion images miss; Zhang et al., Anal Bioanal Chem 413:2803, 2021), and
/// "shoulder pairs" put two species with different patterns inside one TOF peak.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "spatialembed/common/progress.hpp"

namespace spatialembed {

/// What `simulate_tissue` writes.
enum class SimulationOutput {
  processed,   ///< imzML processed mode, centroid: per pixel the ions present (m/z, intensity), zeros omitted
  continuous,  ///< imzML continuous mode, profile: one shared m/z axis sampling the Gaussian peaks
  png,         ///< a folder of 16-bit grey+alpha PNGs, one `<m/z>.png` per ion (read_png_stack's convention)
};
/// "processed", "continuous" or "png".
const char* to_string(SimulationOutput output);
/// Parses the names `to_string` gives; throws InvalidArgument otherwise.
SimulationOutput parse_simulation_output(const std::string& name);

/// The kind of spatial structure a pattern is made of.
enum class PatternKind {
  region,         ///< one tissue region (Voronoi lobe, ellipse or band), with a smooth texture
  region_nodule,  ///< one region plus one nodule at 3× the region's level
  nodule,         ///< one nodule only: a small disc a few pixels across (few ions share it)
  layer,          ///< one thin line or ring, 1–2 px wide
  gradient,       ///< a linear trend across the whole tissue (a global structure)
};
/// "region", "region_nodule", "nodule", "layer" or "gradient".
const char* to_string(PatternKind kind);

/// Options of `simulate_tissue`. `validate()` is the one place they are checked.
struct SimulatedTissueOptions {
  std::size_t width = 64;            ///< pixels (x); 8 … 65535
  std::size_t height = 64;           ///< pixels (y); 8 … 65535
  std::size_t n_molecules = 40;      ///< molecules (each gives 2–4 isotope ion images); ≥ 1
  std::size_t n_ion_images = 0;      ///< > 0: make exactly this many ion images (overrides n_molecules)
  std::size_t n_regions = 5;         ///< tissue regions (Voronoi lobes, then ellipses and bands); 1 … 1000
  std::size_t n_nodules = 3;         ///< nodules (small discs); 0 … 10000
  std::size_t n_layers = 2;          ///< thin layers (lines and rings, 1–2 px wide); 0 … 1000
  std::size_t n_gradients = 1;       ///< global linear trends; 0 … 100
  double nodule_radius = 2.5;        ///< px, mean nodule radius (each drawn in [0.6, 1.2]×); 0.5 … 50
  std::size_t min_isotopes = 2;      ///< isotope peaks per molecule, at least; 1 … 8
  std::size_t max_isotopes = 4;      ///< isotope peaks per molecule, at most; min_isotopes … 8
  double isotope_spacing = 1.00336;  ///< Da between isotope peaks (13C − 12C, charge 1); > 0
  double mz_min = 400.0;             ///< smallest monoisotopic m/z; > 0
  double mz_max = 1000.0;            ///< largest m/z of any isotope peak; > mz_min
  double resolving_power = 20000.0;  ///< R = m/Δm, Δm = FWHM of the Gaussian TOF peak; 100 … 1e7
  double min_peak_separation = 3.0;  ///< FWHMs between peaks of different molecules (shoulder pairs aside); ≥ 1
  std::size_t n_shoulder_pairs = 2;  ///< pairs of molecules inside one TOF peak with different patterns; ≤ n_molecules/2
  double shoulder_offset = 0.5;      ///< FWHMs between the apex and the shoulder species of a pair; 0.05 … 1
  double points_per_fwhm = 5.0;      ///< continuous mode: axis points per FWHM; 2 … 100
  double peak_window = 1.5;          ///< continuous mode: the axis covers ±peak_window FWHM around each peak; 0.5 … 10
  double intensity_scale = 1000.0;   ///< molecules' intensity at pattern level 1 is log-uniform in [0.05, 1]× this; > 0
  double noise = 0.05;               ///< noise sd relative to pattern level 1 (multiplicative and additive); 0 … 1
  double detection_limit = 0.15;     ///< values below this × the ion's level-1 intensity read 0 (a peak picker's SNR cut); 0 … 10
  double hotspot_fraction = 1e-4;    ///< fraction of (ion, pixel) values replaced by a hotspot (20–100× level); 0 … 0.1
  bool tissue_mask = true;           ///< pixels outside the wobbly tissue outline are not measured (no spectrum)
  double pixel_size = 10.0;          ///< µm, written to the imzML; > 0
  SimulationOutput output = SimulationOutput::processed;  ///< what is written
  std::uint64_t seed = 0;            ///< same seed ⇒ byte-identical files, whatever num_threads
  int num_threads = 0;               ///< worker threads; 0 = all cores; ≥ 0
  bool overwrite = false;            ///< replace existing outputs (else IOError naming the path)
  ProgressCallback progress;         ///< (spectra or ion images written, total), from the calling thread

  /// Throws InvalidArgument naming the field, its value and the allowed range.
  void validate() const;
};

/// One ground-truth pattern: the shared spatial structure of a group of ion images.
struct SimulatedPattern {
  PatternKind kind = PatternKind::region;
  std::int32_t region = -1;    ///< region id (region, region_nodule), else −1
  std::int32_t nodule = -1;    ///< nodule id (nodule, region_nodule), else −1
  std::int32_t layer = -1;     ///< layer id (layer), else −1
  std::int32_t gradient = -1;  ///< gradient id (gradient), else −1
  std::size_t n_pixels = 0;    ///< measured pixels where the noise-free map is > 0
  std::size_t n_ions = 0;      ///< ion images with this pattern
};

/// The ground truth of a simulation: the layout (label maps) and one row per ion image.
///
/// Ion images are sorted by m/z; index k of every per-ion vector is ion k. Label maps are
/// `height × width` row-major (pixel (x, y) at y·width + x), −1 = none.
struct SimulatedTissueTruth {
  SimulatedTissueOptions options;     ///< the options that made it (progress cleared)
  std::size_t width = 0, height = 0;
  std::vector<std::uint8_t> mask;     ///< height × width, 1 = measured (inside the tissue)
  std::vector<std::int32_t> region_labels;  ///< height × width region id, −1 outside the tissue
  std::vector<std::int32_t> nodule_labels;  ///< height × width nodule id, −1 = none
  std::vector<std::int32_t> layer_labels;   ///< height × width layer id, −1 = none
  std::vector<float> texture;         ///< height × width smooth level of the region there, in [0.6, 1]
  std::vector<float> nodule_profile;  ///< height × width nodule level (1 at the centre, 0.5 at the rim)
  std::vector<double> gradient_params;  ///< per gradient (a, b, c): level = clamp(a·x + b·y + c, 0.25, 1)
  std::vector<SimulatedPattern> patterns;

  // Per ion image, sorted by m/z.
  std::vector<double> mz;                 ///< peak m/z (the Gaussian's centre)
  std::vector<std::int32_t> molecule;     ///< molecule id
  std::vector<std::int32_t> isotope;      ///< 0 = monoisotopic, 1 = +1.00336 Da, …
  std::vector<std::int32_t> pattern;      ///< pattern id = the truth cluster
  std::vector<PatternKind> kind;          ///< the pattern's kind
  std::vector<std::int32_t> shoulder;     ///< the other ion of its shoulder pair, −1 if none
  std::vector<double> abundance;          ///< intensity at pattern level 1, noise-free
  std::vector<double> png_max;            ///< PNG mode: intensity that 65535 stands for; else empty

  // Per molecule.
  std::vector<double> molecule_mz;          ///< monoisotopic m/z
  std::vector<std::int32_t> molecule_pattern;  ///< its pattern id
  std::vector<std::int32_t> molecule_shoulder;  ///< partner molecule of its shoulder pair, −1 if none

  std::size_t n_ions() const { return mz.size(); }
  std::size_t n_pixels() const { return width * height; }
  /// The noise-free map of pattern `id`: height × width float32, 0 outside the tissue.
  /// Throws InvalidArgument for id ≥ patterns.size().
  std::vector<float> pattern_map(std::size_t id) const;
  /// The noise-free level of pattern `id` at pixel index p (y·width + x); no bounds check.
  float pattern_level(std::size_t id, std::size_t p) const;
  /// The intensity of ion k at pixel p (y·width + x) in the written data (before PNG scaling):
  /// abundance · v with v = level·(1 + noise·z₁) + noise·z₂, z ≈ N(0, 1) (a sum of four
  /// uniforms, bounded at ±3.46), v set to 0 below detection_limit; or abundance · U(20, 100)
  /// at a hotspot (probability hotspot_fraction); 0 outside the mask. A pure function of (seed, k, p), so every output
  /// mode and thread count holds the same values. No bounds check.
  double intensity(std::size_t k, std::size_t p) const;
};

/// The layout, molecules and ion table of a simulation, without writing anything (cheap:
/// memory ~ a few values per pixel). Throws InvalidArgument for invalid options or an m/z
/// range too crowded to place the peaks min_peak_separation FWHMs apart.
SimulatedTissueTruth simulate_tissue_truth(const SimulatedTissueOptions& options);

/// Simulates a tissue section and writes it to `path`: `<stem>.imzML` + `.ibd` (processed,
/// continuous; `path` must end in .imzML) or the folder `path` of `<m/z>.png` files (png),
/// and the truth as `<stem>_truth.json` next to it (stem = path less .imzML, or the folder).
///
/// Streams: imzML modes compute and write one batch of spectra at a time, PNG mode one ion
/// image per thread at a time, so memory is ~ the layout, never the dataset. Outputs go to
/// hidden temporary names and are renamed on success: an interrupted or failed run leaves no
/// half-written result (and removes its temporaries when it can). Same options and seed ⇒
/// byte-identical files for any num_threads.
///
/// Throws InvalidArgument (invalid options, a path without .imzML in imzML modes), IOError
/// naming the path when an output exists and `overwrite` is false or cannot be written,
/// UnsafeOutput when `overwrite` may not replace it (a PNG folder that is neither empty nor
/// an earlier spatialembed output, a link; see common/output_staging.hpp), Cancelled when `progress`
/// returns false. Returns the truth (png_max filled in PNG mode).
SimulatedTissueTruth simulate_tissue(const std::string& path, const SimulatedTissueOptions& options);

/// Writes `truth` (with its options, less num_threads/overwrite/progress) as JSON:
/// {"format": "spatialembed.simulated_tissue", "version": 1, "options": {…}, "ions": {"mz": […],
/// "molecule": […], …}, "patterns": [{"id", "kind", "region", "nodule", "layer", "gradient",
/// "n_pixels", "n_ions"}, …], "molecules": {…}, "output": {…}}; a NaN or infinite number is
/// written as null (JSON has none). Throws IOError.
void write_truth_json(const SimulatedTissueTruth& truth, const std::string& json_path,
                      const std::string& output_path);

}  // namespace spatialembed
