#include "spatialembed/manifold/umap.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "spatialembed/common/error.hpp"
#include "spatialembed/metrics/trustworthiness.hpp"
#include "test_data.hpp"

using namespace spatialembed;

namespace {
UmapOptions quick(std::size_t epochs = 100) {
  UmapOptions o;
  o.n_epochs = epochs;
  o.seed = 11;
  return o;
}
std::string temp_path(const char* name) { return (std::filesystem::temp_directory_path() / name).string(); }
}  // namespace

TEST_CASE("UMAP keeps neighbourhoods of clustered data", "[manifold][umap]") {
  const std::size_t n = 800, d = 10;
  const auto x = test::blobs(n, d, 5, 6, 1.0, 20.0);
  auto o = quick(200);
  o.n_components = 3;
  const auto r = umap_fit(ConstMatrixF(x.data(), n, d), o);
  CHECK(r.embedding.size() == n * 3);
  CHECK(r.n_epochs == 200);
  TrustworthinessOptions t;
  t.n_neighbors = 10;
  CHECK(trustworthiness(ConstMatrixF(x.data(), n, d), ConstMatrixF(r.embedding.data(), n, 3), t) > 0.9);
}

TEST_CASE("UMAP output is identical for any thread count", "[manifold][umap]") {
  const std::size_t n = 5000, d = 6;  // above 4,096 points: NN-descent
  const auto x = test::blobs(n, d, 6);
  auto o = quick(30);
  o.num_threads = 1;
  const auto one = umap_fit(ConstMatrixF(x.data(), n, d), o);
  o.num_threads = 2;
  const auto two = umap_fit(ConstMatrixF(x.data(), n, d), o);
  CHECK(one.embedding == two.embedding);
  o.seed = 12;
  CHECK(umap_fit(ConstMatrixF(x.data(), n, d), o).embedding != one.embedding);
}

TEST_CASE("UMAP save and load round-trip, transform included", "[manifold][umap]") {
  const std::size_t n = 300, d = 4;
  const auto x = test::blobs(n, d, 7);
  UMAP model(quick());
  model.fit(ConstMatrixF(x.data(), n, d));
  const auto path = temp_path("spatialembed_umap_test.seumap");
  std::filesystem::remove(path);
  model.save(path);
  CHECK_THROWS_AS(model.save(path), IOError);  // never overwrites unasked
  const UMAP loaded = UMAP::load(path);
  CHECK(loaded.result().embedding == model.result().embedding);
  const ConstMatrixF queries(x.data(), 20, d);
  CHECK(loaded.transform(queries) == model.transform(queries));

  // A truncated file names the file and the byte offset.
  std::filesystem::resize_file(path, 100);
  CHECK_THROWS_WITH(UMAP::load(path), Catch::Contains(path) && Catch::Contains("byte offset"));
  std::ofstream(path, std::ios::trunc) << "not a model at all";
  CHECK_THROWS_AS(UMAP::load(path), FormatError);
  std::filesystem::remove(path);
  CHECK_THROWS_AS(UMAP::load(path), IOError);
}

TEST_CASE("UMAP bytes round-trip (pickling) and a model fitted from a kNN graph", "[manifold][umap]") {
  const std::size_t n = 200, d = 4;
  const auto x = test::blobs(n, d, 9);
  const ConstMatrixF X(x.data(), n, d), queries(x.data(), 15, d);
  UMAP model(quick(50));
  model.fit(X);
  const UMAP restored = UMAP::from_bytes(model.to_bytes());
  CHECK(restored.result().embedding == model.result().embedding);
  CHECK(restored.transform(queries) == model.transform(queries));
  CHECK_THROWS_WITH(UMAP::from_bytes(model.to_bytes().substr(0, 50), "pickle"),
                    Catch::Contains("pickle") && Catch::Contains("byte offset"));

  // From the kNN graph umap_fit computes itself, the same embedding; without data no transform.
  const KnnGraph knn = umap_neighbors(X, quick(50));
  UMAP from_knn(quick(50));
  from_knn.fit(knn, X);
  CHECK(from_knn.result().embedding == model.result().embedding);
  CHECK(from_knn.transform(queries) == model.transform(queries));
  UMAP graph_only(quick(50));
  graph_only.fit(knn);
  CHECK(graph_only.n_features() == 0);
  CHECK_THROWS_WITH(graph_only.transform(queries), Catch::Contains("needs the training data"));
  CHECK(UMAP::from_bytes(graph_only.to_bytes()).result().embedding == graph_only.result().embedding);

  // From the fuzzy graph of that kNN graph, the same again: umap_fit(knn) is umap_graph + layout.
  const CsrMatrix graph = umap_graph(knn, quick(50));
  CHECK(graph.data == model.result().graph.data);
  CHECK(umap_fit(graph, quick(50), X).embedding == model.result().embedding);
  CHECK_THROWS_WITH(umap_fit(CsrMatrix{2, 3, {0, 0, 0}, {}, {}}, quick(50)), Catch::Contains("2 x 3"));
}

TEST_CASE("UMAP enums parse what to_string gives", "[manifold][umap]") {
  for (const auto m : {KnnMethod::automatic, KnnMethod::exact, KnnMethod::nn_descent})
    CHECK(parse_knn_method(to_string(m)) == m);
  for (const auto i : {UmapInit::spectral, UmapInit::pca, UmapInit::random}) CHECK(parse_umap_init(to_string(i)) == i);
  CHECK(std::string(to_string(UmapInit::user)) == "user");
  CHECK_THROWS_WITH(parse_knn_method("annoy"), Catch::Contains("knn_method") && Catch::Contains("annoy"));
}

TEST_CASE("UMAP reports each epoch and can be cancelled", "[manifold][umap]") {
  const auto x = test::blobs(100, 3, 8);
  auto o = quick(25);
  std::size_t calls = 0;
  o.progress = [&](std::size_t done, std::size_t total) {
    CHECK(total == 25);
    CHECK(done == ++calls);
    return true;
  };
  umap_fit(ConstMatrixF(x.data(), 100, 3), o);
  CHECK(calls == 25);
  o.progress = [](std::size_t done, std::size_t) { return done < 3; };
  CHECK_THROWS_AS(umap_fit(ConstMatrixF(x.data(), 100, 3), o), Cancelled);
}

TEST_CASE("UMAP rejects bad input clearly", "[manifold][umap]") {
  auto x = test::blobs(20, 3, 9);
  const ConstMatrixF X(x.data(), 20, 3);
  auto o = quick(10);
  o.n_neighbors = 20;
  CHECK_THROWS_WITH(umap_fit(X, o), Catch::Contains("n_neighbors must be < n_samples = 20"));
  o.n_neighbors = 1;
  CHECK_THROWS_WITH(umap_fit(X, o), Catch::Contains("n_neighbors must be >= 2"));
  o = quick(10);
  o.n_components = 0;
  CHECK_THROWS_AS(umap_fit(X, o), InvalidArgument);
  o = quick(10);
  CHECK_THROWS_WITH(umap_fit(ConstMatrixF(x.data(), 1, 3), o), Catch::Contains("at least 2 samples"));
  o.a = 1.0;
  CHECK_THROWS_WITH(umap_fit(X, o), Catch::Contains("give both a and b"));
  x[4] = NAN;
  CHECK_THROWS_WITH(umap_fit(X, quick(10)), Catch::Contains("X[1, 1] = nan"));
  const std::vector<float> constant = {1, 1, 1, 2, 3, 4, 5, 5, 5, 7, 8, 9};
  o = quick(10);
  o.n_neighbors = 2;
  o.metric = Metric::correlation;
  CHECK_THROWS_WITH(umap_fit(ConstMatrixF(constant.data(), 4, 3), o), Catch::Contains("row 0 is constant"));
}

TEST_CASE("UMAP handles duplicate points", "[manifold][umap]") {
  std::vector<float> x;
  const auto base = test::blobs(40, 3, 10);
  for (int copy = 0; copy < 5; ++copy) x.insert(x.end(), base.begin(), base.end());
  auto o = quick(30);
  o.n_neighbors = 8;
  const auto r = umap_fit(ConstMatrixF(x.data(), 200, 3), o);
  for (const float v : r.embedding) REQUIRE(std::isfinite(v));
}
