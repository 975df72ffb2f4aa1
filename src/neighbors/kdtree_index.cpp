#include "neighbors/kdtree_index.hpp"

#include <nanoflann.hpp>

#include <cmath>
#include <vector>

namespace spatialembed {

namespace {

// nanoflann reads points through this adaptor; coordinates are widened to double so the
// distance arithmetic is float64 throughout.
struct PointsAdaptor {
  const SearchSpace* space;
  std::size_t kdtree_get_point_count() const { return space->size(); }
  double kdtree_get_pt(std::uint32_t i, std::size_t k) const { return space->point(i)[k]; }
  template <class BBox>
  bool kdtree_get_bbox(BBox&) const { return false; }
};

using Distance = nanoflann::L2_Simple_Adaptor<double, PointsAdaptor, double, std::uint32_t>;
using Tree = nanoflann::KDTreeSingleIndexAdaptor<Distance, PointsAdaptor, -1, std::uint32_t>;

// A result set that forwards every point within the radius to a callback. nanoflann keeps
// a leaf point when dist < worstDist(), so reporting the next double above the radius makes
// the test dist ≤ radius.
class VisitResultSet {
 public:
  VisitResultSet(double squared_radius, const std::function<bool(std::uint32_t, double)>& visit)
      : radius_(squared_radius), worst_(std::nextafter(squared_radius, HUGE_VAL)), visit_(visit) {}
  bool full() const { return true; }
  double worstDist() const { return worst_; }
  bool addPoint(double dist, std::uint32_t index) {
    if (dist > radius_) return true;
    return visit_(index, dist);
  }

 private:
  double radius_;
  double worst_;
  const std::function<bool(std::uint32_t, double)>& visit_;
};

}  // namespace

struct KdTreeIndex::Impl {
  explicit Impl(const SearchSpace& space)
      : adaptor{&space}, tree(static_cast<int>(space.dim()), adaptor, nanoflann::KDTreeSingleIndexAdaptorParams(16)) {}
  std::vector<double> widen(const float* query) const {
    return std::vector<double>(query, query + adaptor.space->dim());
  }
  PointsAdaptor adaptor;
  Tree tree;
};

KdTreeIndex::KdTreeIndex(const SearchSpace& space) : impl_(std::make_unique<Impl>(space)) {}
KdTreeIndex::~KdTreeIndex() = default;

void KdTreeIndex::radius_visit(const float* query, double squared_radius,
                               const std::function<bool(std::uint32_t, double)>& visit) const {
  if (impl_->adaptor.space->size() == 0) return;
  const auto q = impl_->widen(query);
  VisitResultSet result(squared_radius, visit);
  impl_->tree.findNeighbors(result, q.data(), nanoflann::SearchParams(32, 0.0f, false));
}

void KdTreeIndex::knn(const float* query, std::size_t k, std::uint32_t* index, double* squared) const {
  const auto q = impl_->widen(query);
  nanoflann::KNNResultSet<double, std::uint32_t, std::size_t> result(k);
  result.init(index, squared);
  impl_->tree.findNeighbors(result, q.data(), nanoflann::SearchParams());
}

}  // namespace spatialembed
