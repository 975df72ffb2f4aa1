// The spatial readers on the real her2st sections and on small folders written here.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include "msi/msi_test_util.hpp"
#include "spatial/image_test_util.hpp"
#include "spatialembed/common/error.hpp"
#include "spatialembed/spatial/readers.hpp"

using namespace spatialembed;

namespace {

std::string her2st_root() {
  const std::string data = test::data_dir();
  return data.empty() ? std::string() : data + "/st/her2st";
}

void write(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// A tiny her2st-layout section: three spots on the grid, two count rows, one unmatched each way.
void write_tiny_her2st(const std::filesystem::path& root, const std::string& counts) {
  write(root / "spots" / "S1_selection.tsv",
        "x\ty\tnew_x\tnew_y\tpixel_x\tpixel_y\tselected\n"
        "1\t1\t1\t1\t100\t100\t1\n2\t1\t2\t1\t300\t100\t1\n1\t2\t1\t2\t100\t300\t0\n");
  write(root / "counts" / "S1.tsv.gz", counts);  // gzopen reads plain text as well
  std::filesystem::create_directories(root / "images");
  // A real 400 × 400 JPEG: the reader checks the image's size against the spots.
  test::write_jpeg((root / "images" / "S1.jpg").string(), test::smooth_image(400, 400), 400, 400);
}

}  // namespace

TEST_CASE("her2st sections read with the data README's spot and gene counts", "[spatial][readers]") {
  const std::string root = her2st_root();
  if (root.empty()) return;  // no shared data here
  struct Expected {
    const char* section;
    std::size_t spots, genes, spot_rows;
  };
  for (const Expected e : {Expected{"B4", 283, 15289, 284}, Expected{"C2", 187, 15706, 187},
                           Expected{"C3", 180, 15821, 182}, Expected{"C4", 184, 15842, 187},
                           Expected{"C5", 181, 15721, 183}, Expected{"C6", 178, 15772, 179}}) {
    INFO(e.section);
    const Section s = read_her2st(root, e.section);
    CHECK(s.n_spots() == e.spots);
    CHECK(s.n_genes() == e.genes);
    CHECK(s.n_spots() + s.spots_without_counts.size() == e.spot_rows);
    CHECK(s.counts_without_spots.empty());
    CHECK(s.integer_counts);
    CHECK(s.warnings.size() == (s.spots_without_counts.empty() ? 0u : 1u));
    // Legacy ST: 100 µm spots 200 µm apart, ≈289 px apart in C2.
    if (std::string(e.section) == "C2") CHECK(s.spot_diameter == Approx(289.0 / 2).epsilon(0.02));
  }
}

TEST_CASE("her2st: counts are paired with spots by id, not by position", "[spatial][readers]") {
  const std::string root = her2st_root();
  if (root.empty()) return;  // no shared data here
  const Section s = read_her2st(root, "B4");
  REQUIRE(s.spots_without_counts.size() == 1);
  for (std::size_t i = 0; i < s.n_spots(); ++i) {
    CHECK(s.spots.ids[i] == fmt::format("{}x{}", s.spots.array_col[i], s.spots.array_row[i]));
  }
}

TEST_CASE("her2st layout: unmatched ids on both sides are reported", "[spatial][readers]") {
  test::ScratchDir dir("her2st_tiny");
  write_tiny_her2st(dir.path, "\tGENE_A\tGENE_B\n1x1\t3\t0\n9x9\t1\t1\n");
  const Section s = read_her2st(dir.path.string(), "S1");
  REQUIRE(s.n_spots() == 1);
  CHECK(s.spots.ids[0] == "1x1");
  CHECK(s.spots.x[0] == 100);
  CHECK(s.spots_without_counts == std::vector<std::string>{"2x1", "1x2"});
  CHECK(s.counts_without_spots == std::vector<std::string>{"9x9"});
  CHECK(s.warnings.size() == 2);
  CHECK(s.counts.nnz() == 1);
  CHECK(s.counts.data[0] == 3);
  CHECK(s.spot_diameter == Approx(100));  // half of the 200 px spacing
}

TEST_CASE("her2st layout: bad input gives errors naming the file and the value", "[spatial][readers]") {
  test::ScratchDir dir("her2st_bad");
  CHECK_THROWS_AS(read_her2st(dir.path.string(), "S1"), IOError);
  write_tiny_her2st(dir.path, "\tGENE_A\tGENE_B\n1x1\t3\t-2\n");
  CHECK_THROWS_WITH(read_her2st(dir.path.string(), "S1"), Catch::Contains("S1.tsv.gz") && Catch::Contains("-2"));
  write_tiny_her2st(dir.path, "\tGENE_A\tGENE_B\n1x1\t3\tnan\n");
  CHECK_THROWS_WITH(read_her2st(dir.path.string(), "S1"), Catch::Contains("GENE_B") && Catch::Contains("nan"));
  write_tiny_her2st(dir.path, "\tGENE_A\tGENE_A\n1x1\t3\t1\n");
  CHECK_THROWS_WITH(read_her2st(dir.path.string(), "S1"), Catch::Contains("GENE_A") && Catch::Contains("twice"));
  write_tiny_her2st(dir.path, "\tGENE_A\tGENE_B\n1x1\t3\n");
  CHECK_THROWS_WITH(read_her2st(dir.path.string(), "S1"), Catch::Contains("row 2 has 2 fields"));
  write_tiny_her2st(dir.path, "\tGENE_A\tGENE_B\n5x5\t3\t1\n");
  CHECK_THROWS_WITH(read_her2st(dir.path.string(), "S1"), Catch::Contains("none of the 3 spot ids"));
  write_tiny_her2st(dir.path, "");
  CHECK_THROWS_WITH(read_her2st(dir.path.string(), "S1"), Catch::Contains("empty"));
  write_tiny_her2st(dir.path, std::string("\tA\x00\x01\n", 5));
  CHECK_THROWS_WITH(read_her2st(dir.path.string(), "S1"), Catch::Contains("NUL"));
  Her2stOptions bad;
  bad.diameter_to_spacing = 2;
  CHECK_THROWS_WITH(read_her2st(dir.path.string(), "S1", bad), Catch::Contains("diameter_to_spacing"));
}

TEST_CASE("STimage-1K4M layout: radius, ids and quoting", "[spatial][readers]") {
  test::ScratchDir dir("stimage");
  write(dir.path / "coord" / "S_coord.csv", ",yaxis,xaxis,r\n\"spot,1\",10,20,5\nspot2,30,40,5\nspot3,50,60,7\n");
  write(dir.path / "gene_exp" / "S_count.csv", ",G1,G2\nspot2,1.5,0\n\"spot,1\",0,2\n");
  std::filesystem::create_directories(dir.path / "image");
  test::write_jpeg((dir.path / "image" / "S.png").string(), test::smooth_image(80, 80), 80, 80);  // JPEG bytes
  const Section s = read_stimage1k4m(dir.path.string(), "S");
  REQUIRE(s.n_spots() == 2);
  CHECK(s.spots.ids == std::vector<std::string>{"spot,1", "spot2"});
  CHECK(s.spots.x == std::vector<double>{20, 40});
  CHECK(s.spots.y == std::vector<double>{10, 30});
  CHECK(s.spot_diameter == 10);
  CHECK_FALSE(s.integer_counts);
  CHECK(s.spots_without_counts == std::vector<std::string>{"spot3"});
  REQUIRE(s.warnings.size() == 2);  // the odd radius and the unmatched spot
  CHECK(s.counts.data == std::vector<float>{2, 1.5f});
}

TEST_CASE("readers refuse an image smaller than the spot coordinates imply", "[spatial][readers]") {
  test::ScratchDir dir("her2st_small_image");
  write_tiny_her2st(dir.path, "\tGENE_A\n1x1\t3\n2x1\t1\n");
  test::write_jpeg((dir.path / "images" / "S1.jpg").string(), test::smooth_image(200, 200), 200, 200);
  CHECK_THROWS_WITH(read_her2st(dir.path.string(), "S1"),
                    Catch::Contains("S1.jpg") && Catch::Contains("200 × 200") && Catch::Contains("spot 2x1"));
  write(dir.path / "images" / "S1.jpg", "GIF89a not an image we read");
  CHECK_THROWS_WITH(read_her2st(dir.path.string(), "S1"), Catch::Contains("S1.jpg"));
}
