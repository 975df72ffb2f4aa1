#pragma once
// Internals shared by simulated_tissue.cpp (the design) and simulated_tissue_output.cpp (the
// writers): the two loops that turn the truth into data, ion-major and pixel-major.

#include <cstddef>
#include <vector>

#include "spatialembed/msi/simulated_tissue.hpp"

namespace spatialembed::sim_detail {

/// Ion image k (height × width float32, 0 outside the mask); `level` is scratch.
void ion_image(const SimulatedTissueTruth& t, std::size_t k, std::vector<float>& level, std::vector<float>& out);

/// The intensity of every ion at pixel p (n_ions float64, m/z order); `levels` is scratch.
void pixel_intensities(const SimulatedTissueTruth& t, std::size_t p, std::vector<double>& levels,
                       std::vector<double>& out);

}  // namespace spatialembed::sim_detail
