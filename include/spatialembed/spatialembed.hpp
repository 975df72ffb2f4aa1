#pragma once
/// @file
/// Umbrella header: every public header of spatialembed::core.

#include "spatialembed/cluster/dbscan.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/common/matrix_view.hpp"
#include "spatialembed/common/parallel.hpp"
#include "spatialembed/common/progress.hpp"
#include "spatialembed/common/random.hpp"
#include "spatialembed/metrics/clustering_agreement.hpp"
#include "spatialembed/metrics/silhouette.hpp"
#include "spatialembed/neighbors/csr_graph.hpp"
#include "spatialembed/neighbors/k_distance.hpp"
#include "spatialembed/neighbors/metric.hpp"
#include "spatialembed/version.hpp"
