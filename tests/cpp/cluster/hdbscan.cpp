#include "spatialembed/cluster/hdbscan.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>
#include <vector>

#include "neighbors/search_space.hpp"
#include "spatialembed/common/error.hpp"
#include "test_data.hpp"

using namespace spatialembed;

namespace {

HdbscanResult run(const std::vector<float>& x, std::size_t n, std::size_t d, HdbscanOptions options) {
  return HDBSCAN(options).fit(ConstMatrixF(x.data(), n, d));
}

HdbscanOptions opts(std::int64_t min_cluster_size, std::int64_t min_samples = 0,
                    HdbscanAlgorithm algorithm = HdbscanAlgorithm::automatic, int threads = 1) {
  HdbscanOptions o;
  o.min_cluster_size = min_cluster_size;
  o.min_samples = min_samples;
  o.algorithm = algorithm;
  o.num_threads = threads;
  return o;
}

void require_same(const HdbscanResult& got, const HdbscanResult& want) {
  REQUIRE(got.core_distances == want.core_distances);
  REQUIRE(got.single_linkage_tree.left == want.single_linkage_tree.left);
  REQUIRE(got.single_linkage_tree.right == want.single_linkage_tree.right);
  REQUIRE(got.single_linkage_tree.distance == want.single_linkage_tree.distance);
  REQUIRE(got.condensed_tree.parent == want.condensed_tree.parent);
  REQUIRE(got.condensed_tree.child == want.condensed_tree.child);
  REQUIRE(got.condensed_tree.lambda_val == want.condensed_tree.lambda_val);
  REQUIRE(got.labels == want.labels);
  REQUIRE(got.probabilities == want.probabilities);
}

// Kruskal over all pairs, in the order (mutual reachability, lower index, higher index),
// from the definitions: core distance = distance to the min_samples-th nearest point
// (itself first), mutual reachability = max(core_a, core_b, d / alpha). Returns the merge
// distances of the single-linkage tree and the merged sizes.
struct ReferenceLinkage {
  std::vector<double> core, distance;
  std::vector<std::int64_t> size;
};

ReferenceLinkage reference_linkage(const std::vector<float>& x, std::size_t n, std::size_t d, std::size_t k,
                                   double alpha = 1.0) {
  auto dist = [&](std::size_t i, std::size_t j) {
    double s = 0.0;
    for (std::size_t c = 0; c < d; ++c) {
      const double diff = static_cast<double>(x[i * d + c]) - static_cast<double>(x[j * d + c]);
      s += diff * diff;
    }
    return std::sqrt(s);
  };
  ReferenceLinkage r;
  r.core.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<double> row(n);
    for (std::size_t j = 0; j < n; ++j) row[j] = dist(i, j);
    std::sort(row.begin(), row.end());
    r.core[i] = row[k - 1];
  }
  struct Edge {
    double w;
    std::size_t a, b;
  };
  std::vector<Edge> edges;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) edges.push_back({std::max({r.core[i], r.core[j], dist(i, j) / alpha}), i, j});
  }
  std::sort(edges.begin(), edges.end(), [](const Edge& p, const Edge& q) {
    return std::tie(p.w, p.a, p.b) < std::tie(q.w, q.a, q.b);
  });
  std::vector<std::size_t> parent(n);
  std::vector<std::int64_t> size(n, 1);
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](std::size_t v) {
    while (parent[v] != v) v = parent[v];
    return v;
  };
  for (const auto& e : edges) {
    const auto a = find(e.a), b = find(e.b);
    if (a == b) continue;
    parent[b] = a;
    size[a] += size[b];
    r.distance.push_back(e.w);
    r.size.push_back(size[a]);
  }
  return r;
}

}  // namespace

TEST_CASE("HDBSCAN: a hand-worked line of two groups", "[cluster][hdbscan]") {
  // Points 0,1,2 and 10,11,12; min_samples 2 makes every core distance 1, so the spanning
  // tree has four edges of weight 1 and one of 8 between the groups.
  const std::vector<float> x = {0, 1, 2, 10, 11, 12};
  for (auto algorithm : {HdbscanAlgorithm::brute, HdbscanAlgorithm::kdtree}) {
    const auto r = run(x, 6, 1, opts(3, 2, algorithm));
    REQUIRE(r.core_distances == std::vector<double>(6, 1.0));
    REQUIRE(r.single_linkage_tree.left == std::vector<std::int64_t>{0, 6, 3, 8, 7});
    REQUIRE(r.single_linkage_tree.right == std::vector<std::int64_t>{1, 2, 4, 5, 9});
    REQUIRE(r.single_linkage_tree.distance == std::vector<double>{1, 1, 1, 1, 8});
    const auto& t = r.condensed_tree;
    REQUIRE(t.parent == std::vector<std::int64_t>{6, 6, 7, 7, 7, 8, 8, 8});
    REQUIRE(t.child == std::vector<std::int64_t>{7, 8, 0, 1, 2, 3, 4, 5});
    REQUIRE(t.lambda_val == std::vector<double>{0.125, 0.125, 1, 1, 1, 1, 1, 1});
    REQUIRE(t.child_size == std::vector<std::int64_t>{3, 3, 1, 1, 1, 1, 1, 1});
    REQUIRE(r.labels == std::vector<std::int32_t>{0, 0, 0, 1, 1, 1});
    REQUIRE(r.probabilities == std::vector<double>(6, 1.0));
    REQUIRE(r.cluster_nodes == std::vector<std::int64_t>{7, 8});
    REQUIRE(r.algorithm == algorithm);
  }
}

TEST_CASE("HDBSCAN: eom keeps a stable parent, leaf its children; max_cluster_size splits it",
          "[cluster][hdbscan]") {
  // A = {0,1,2} and B = {3.5,4.5,5.5} are 1.5 apart, C = {100,101,102} far away. Splitting
  // AB gains stability 2 × (1 − 1/1.5) × 3 = 2, less than AB's own (1/1.5 − 1/94.5) × 6.
  const std::vector<float> x = {0, 1, 2, 3.5f, 4.5f, 5.5f, 100, 101, 102};
  auto o = opts(3, 2);
  const auto eom = run(x, 9, 1, o);
  REQUIRE(eom.cluster_nodes == std::vector<std::int64_t>{10, 11});  // AB, C
  REQUIRE(eom.labels == std::vector<std::int32_t>{0, 0, 0, 0, 0, 0, 1, 1, 1});
  // AB's largest λ is the A/B split (1/1.5); its points leave later, so they cap at 1.
  REQUIRE(eom.probabilities == std::vector<double>(9, 1.0));

  o.cluster_selection_method = ClusterSelectionMethod::leaf;
  const auto leaf = run(x, 9, 1, o);
  REQUIRE(leaf.cluster_nodes == std::vector<std::int64_t>{11, 12, 13});  // C, A, B
  REQUIRE(leaf.labels == std::vector<std::int32_t>{1, 1, 1, 2, 2, 2, 0, 0, 0});

  o.cluster_selection_method = ClusterSelectionMethod::eom;
  o.max_cluster_size = 5;
  REQUIRE(run(x, 9, 1, o).labels == leaf.labels);

  // cluster_selection_epsilon 2 (> the A/B split at 1.5) merges A and B again under leaf.
  o.max_cluster_size = 0;
  o.cluster_selection_method = ClusterSelectionMethod::leaf;
  o.cluster_selection_epsilon = 2.0;
  REQUIRE(run(x, 9, 1, o).labels == eom.labels);
}

TEST_CASE("HDBSCAN: allow_single_cluster and cluster_selection_epsilon", "[cluster][hdbscan]") {
  const std::vector<float> x = {0, 1, 2, 10, 11, 12};
  auto o = opts(3, 2);
  o.cluster_selection_epsilon = 10.0;  // both clusters are born at distance 8 < 10
  REQUIRE(run(x, 6, 1, o).labels == std::vector<std::int32_t>{0, 0, 0, 1, 1, 1});  // the root is not allowed
  o.allow_single_cluster = true;
  const auto single = run(x, 6, 1, o);
  REQUIRE(single.labels == std::vector<std::int32_t>(6, 0));
  REQUIRE(single.cluster_nodes == std::vector<std::int64_t>{6});

  // One blob: without allow_single_cluster the root is never a cluster.
  const auto blob = test::blobs(200, 2, 3, 1, 0.5, 1.0);
  auto b = opts(150, 5);
  REQUIRE(run(blob, 200, 2, b).n_clusters == 0);
  b.allow_single_cluster = true;
  const auto r = run(blob, 200, 2, b);
  REQUIRE(r.n_clusters == 1);
  REQUIRE(std::count(r.labels.begin(), r.labels.end(), 0) > 0);
}

TEST_CASE("HDBSCAN spanning tree equals Kruskal on all pairs, random and tied inputs", "[cluster][hdbscan]") {
  struct Case {
    std::vector<float> x;
    std::size_t n, d;
  };
  std::vector<Case> cases;
  for (std::size_t d : {1u, 2u, 3u, 5u}) cases.push_back({test::blobs(300, d, 40 + d, 3, 0.7, 8.0), 300, d});
  for (std::size_t d : {2u, 3u}) cases.push_back({test::lattice(250, d, 9 * d, 7), 250, d});
  for (const auto& c : cases) {
    for (std::size_t k : {1u, 4u, 9u}) {
      for (double alpha : {1.0, 1.3}) {
        const auto want = reference_linkage(c.x, c.n, c.d, k, alpha);
        for (auto algorithm : {HdbscanAlgorithm::brute, HdbscanAlgorithm::kdtree}) {
          INFO("d=" << c.d << " k=" << k << " alpha=" << alpha << " algorithm=" << to_string(algorithm));
          auto o = opts(5, static_cast<std::int64_t>(k), algorithm);
          o.alpha = alpha;
          const auto r = run(c.x, c.n, c.d, o);
          REQUIRE(r.core_distances == want.core);
          REQUIRE(r.single_linkage_tree.distance == want.distance);
          REQUIRE(r.single_linkage_tree.size == want.size);
        }
      }
    }
  }
}

TEST_CASE("HDBSCAN results do not depend on the algorithm or the thread count", "[cluster][hdbscan]") {
  auto blobs = test::blobs(3000, 3, 11, 6, 0.6, 12.0);
  auto lattice = test::lattice(1500, 2, 5, 12);  // two patches of integer points, many duplicates
  for (std::size_t i = 0; i < 1500; i += 2) lattice[2 * i] += 30.0f;
  for (const std::vector<float>* x : {&blobs, &lattice}) {
    const std::size_t n = x->size() / (x == &blobs ? 3 : 2), d = x == &blobs ? 3 : 2;
    for (auto method : {ClusterSelectionMethod::eom, ClusterSelectionMethod::leaf}) {
      auto o = opts(10, 5, HdbscanAlgorithm::brute, 1);
      o.cluster_selection_method = method;
      const auto want = run(*x, n, d, o);
      REQUIRE(want.n_clusters > 1);
      for (int threads : {1, 2, 3, 8}) {
        for (auto algorithm : {HdbscanAlgorithm::brute, HdbscanAlgorithm::kdtree}) {
          INFO("threads=" << threads << " algorithm=" << to_string(algorithm));
          o.num_threads = threads;
          o.algorithm = algorithm;
          require_same(run(*x, n, d, o), want);
        }
      }
    }
  }
}

TEST_CASE("HDBSCAN other metrics: kdtree equals brute", "[cluster][hdbscan]") {
  const auto x = test::blobs(600, 4, 21, 4, 0.5, 6.0);
  for (auto metric : {Metric::cosine, Metric::correlation, Metric::manhattan}) {
    auto o = opts(8, 4, HdbscanAlgorithm::brute);
    o.metric = metric;
    const auto want = run(x, 600, 4, o);
    o.algorithm = HdbscanAlgorithm::kdtree;
    o.num_threads = 2;
    INFO(to_string(metric));
    require_same(run(x, 600, 4, o), want);
  }
}

TEST_CASE("HDBSCAN labels are consistent with its condensed tree", "[cluster][hdbscan]") {
  const std::size_t n = 2000;
  const auto x = test::blobs(n, 2, 77, 5, 0.5, 15.0);
  const auto r = run(x, n, 2, opts(15));
  REQUIRE(r.condensed_tree.size() >= n);
  REQUIRE(static_cast<std::size_t>(r.n_clusters) == r.cluster_nodes.size());
  // Every point appears once as a child; a clustered point lies below its cluster's node.
  std::vector<std::int64_t> parent_of(n + r.condensed_tree.size() + 1, -1);
  std::vector<int> seen(n, 0);
  for (std::size_t i = 0; i < r.condensed_tree.size(); ++i) {
    parent_of[static_cast<std::size_t>(r.condensed_tree.child[i])] = r.condensed_tree.parent[i];
    if (r.condensed_tree.child[i] < static_cast<std::int64_t>(n)) ++seen[static_cast<std::size_t>(r.condensed_tree.child[i])];
  }
  REQUIRE(std::all_of(seen.begin(), seen.end(), [](int s) { return s == 1; }));
  for (std::size_t i = 0; i < n; ++i) {
    REQUIRE(r.probabilities[i] >= 0.0);
    REQUIRE(r.probabilities[i] <= 1.0);
    if (r.labels[i] < 0) {
      REQUIRE(r.probabilities[i] == 0.0);
      continue;
    }
    const auto node = r.cluster_nodes[static_cast<std::size_t>(r.labels[i])];
    std::int64_t up = static_cast<std::int64_t>(i);
    while (up != node && up != static_cast<std::int64_t>(n)) up = parent_of[static_cast<std::size_t>(up)];
    REQUIRE(up == node);
  }
}

TEST_CASE("HDBSCAN rejects bad options and input", "[cluster][hdbscan]") {
  auto bad = [](auto change) {
    HdbscanOptions o;
    change(o);
    return o;
  };
  REQUIRE_THROWS_WITH(HDBSCAN(bad([](auto& o) { o.min_cluster_size = 1; })),
                      Catch::Contains("min_cluster_size must be >= 2, got 1"));
  REQUIRE_THROWS_WITH(HDBSCAN(bad([](auto& o) { o.min_samples = -1; })), Catch::Contains("min_samples"));
  REQUIRE_THROWS_WITH(HDBSCAN(bad([](auto& o) { o.cluster_selection_epsilon = -0.5; })),
                      Catch::Contains("cluster_selection_epsilon must be finite and >= 0, got -0.5"));
  REQUIRE_THROWS_WITH(HDBSCAN(bad([](auto& o) { o.alpha = 0.0; })), Catch::Contains("alpha"));
  REQUIRE_THROWS_WITH(HDBSCAN(bad([](auto& o) { o.max_cluster_size = -2; })), Catch::Contains("max_cluster_size"));
  REQUIRE_THROWS_WITH(HDBSCAN(bad([](auto& o) { o.num_threads = -1; })), Catch::Contains("num_threads"));
  REQUIRE_THROWS_AS(parse_cluster_selection_method("mass"), InvalidArgument);
  REQUIRE_THROWS_AS(parse_hdbscan_algorithm("ball_tree"), InvalidArgument);
  REQUIRE(parse_cluster_selection_method(to_string(ClusterSelectionMethod::leaf)) == ClusterSelectionMethod::leaf);
  REQUIRE(parse_hdbscan_algorithm(to_string(HdbscanAlgorithm::kdtree)) == HdbscanAlgorithm::kdtree);

  std::vector<float> x = {0, 0, 1, 1, 2, 2, 3, 3};
  REQUIRE_THROWS_WITH(run(x, 4, 2, opts(5)), Catch::Contains("min_samples (5) must be at most the number of samples in X (4)"));
  REQUIRE_THROWS_WITH(run(x, 0, 2, opts(2)), Catch::Contains("number of samples in X (0)"));
  x[3] = std::numeric_limits<float>::quiet_NaN();
  REQUIRE_THROWS_WITH(run(x, 4, 2, opts(2)), Catch::Contains("X[1, 1] = nan"));
  std::vector<float> zero = {0, 0, 1, 1, 2, 2};
  auto o = opts(2);
  o.metric = Metric::cosine;
  REQUIRE_THROWS_AS(run(zero, 3, 2, o), InvalidArgument);

  const std::vector<float> one = {1.0f, 2.0f};
  const auto r = run(one, 1, 2, opts(2, 1));
  REQUIRE(r.labels == std::vector<std::int32_t>{-1});
  REQUIRE(r.condensed_tree.size() == 0);
}

TEST_CASE("HDBSCAN progress callback sees 3 phases and can cancel", "[cluster][hdbscan]") {
  const auto x = test::blobs(200, 2, 1);
  auto o = opts(5);
  std::vector<std::size_t> seen;
  o.progress = [&](std::size_t done, std::size_t total) {
    REQUIRE(total == 3);
    seen.push_back(done);
    return true;
  };
  run(x, 200, 2, o);
  REQUIRE(seen == std::vector<std::size_t>{1, 2, 3});
  o.progress = [](std::size_t, std::size_t) { return false; };
  REQUIRE_THROWS_AS(run(x, 200, 2, o), Cancelled);
}
