// Ion-image extraction throughput on large synthetic imzML files, against the raw sequential
// read speed of the same .ibd (issue 4's benchmark).
//
//   bench_msi_extract OUT_DIR [GIB=2.1] [N_IMAGES=1000] [THREADS=0]
//
// Writes a continuous (float64 m/z axis, float32 intensities) and a processed (per-pixel
// float64 m/z + float32 intensities) file of ≥ GIB each with ImzMLWriter into OUT_DIR, warms
// the page cache by reading each .ibd once, then times (1) `cat FILE > /dev/null`, (2) a plain
// read() loop with a 1 MiB buffer and (3) extract_ion_images of N_IMAGES m/z (10 ppm, sum),
// and prints a Markdown table row per file with the peak resident memory. Deletes the files.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "spatialembed/msi/imzml_writer.hpp"
#include "spatialembed/msi/ion_images.hpp"

using namespace spatialembed;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

long rss_kb(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::string(field).size());
  }
  return -1;
}

double read_loop(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  std::vector<char> buffer(1 << 20);
  const auto t = Clock::now();
  while (::read(fd, buffer.data(), buffer.size()) > 0) {
  }
  ::close(fd);
  return seconds_since(t);
}

struct Lcg {
  std::uint64_t state;
  double next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(state >> 11) * 0x1.0p-53;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR [GIB=2.1] [N_IMAGES=1000] [THREADS=0]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const double gib = argc > 2 ? std::atof(argv[2]) : 2.1;
  const std::size_t n_images = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 1000;
  const int threads = argc > 4 ? std::atoi(argv[4]) : 0;
  const double target = gib * 1073741824.0;
  std::printf("| file | spectra | values/spectrum | .ibd GB | write s | cat GB/s | read() GB/s | extract s | extract GB/s | ratio to cat | ratio to read() | peak RSS MB | output MB |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto mode : {ImzMLMode::continuous, ImzMLMode::processed}) {
    const bool continuous = mode == ImzMLMode::continuous;
    const std::size_t values = continuous ? 20000 : 4000;
    const double bytes_per_spectrum = continuous ? 4.0 * values : 12.0 * values;
    const auto n_spectra = static_cast<std::size_t>(std::ceil(target / bytes_per_spectrum));
    const std::size_t width = 200;
    const std::string path = dir + "/bench_" + to_string(mode) + ".imzML";
    // Write.
    auto t = Clock::now();
    {
      ImzMLWriterOptions o;
      o.mode = mode;
      o.pixel_size_x = 10;
      ImzMLWriter writer(path, o);
      std::vector<double> mz(values), y(values);
      for (std::size_t c = 0; c < values; ++c) mz[c] = 200.0 * std::pow(5.0, static_cast<double>(c) / values);
      Lcg rng{42};
      for (std::size_t i = 0; i < n_spectra; ++i) {
        if (!continuous) {
          double m = 200.0 + rng.next();
          for (std::size_t c = 0; c < values; ++c) mz[c] = (m += 0.5 * rng.next() * 800.0 / values * 2);
        }
        for (std::size_t c = 0; c < values; ++c) y[c] = std::floor(100 * rng.next() * rng.next());
        writer.add_spectrum({static_cast<std::int32_t>(i % width) + 1, static_cast<std::int32_t>(i / width) + 1, 1},
                            continuous && i > 0 ? VectorView<const double>() : VectorView<const double>(mz), y);
      }
      writer.close();
    }
    const double write_s = seconds_since(t);
    const std::string ibd = dir + "/bench_" + to_string(mode) + ".ibd";
    ImzMLReader reader(path);
    const double size = static_cast<double>(reader.ibd_size());
    read_loop(ibd);  // warm the page cache
    t = Clock::now();
    if (std::system(("cat '" + ibd + "' > /dev/null").c_str()) != 0) return 1;
    const double cat_s = seconds_since(t);
    const double read_s = read_loop(ibd);
    std::vector<double> centres(n_images);
    for (std::size_t k = 0; k < n_images; ++k) centres[k] = 210.0 + 780.0 * static_cast<double>(k) / n_images;
    IonImageOptions o;
    o.num_threads = threads;
    o.warn = [](const std::string&) {};
    const long rss_before = rss_kb("VmRSS:");
    t = Clock::now();
    const auto stack = extract_ion_images(reader, centres, o);
    const double extract_s = seconds_since(t);
    const double output_mb = static_cast<double>(stack.images.size() * 4) / 1e6;
    std::printf("| %s | %zu | %zu | %.2f | %.1f | %.2f | %.2f | %.2f | %.2f | %.0f%% | %.0f%% | %.0f | %.0f |\n",
                to_string(mode), n_spectra, values, size / 1e9, write_s, size / 1e9 / cat_s, size / 1e9 / read_s, extract_s,
                size / 1e9 / extract_s, 100 * cat_s / extract_s, 100 * read_s / extract_s, rss_kb("VmHWM:") / 1024.0,
                output_mb);
    std::fprintf(stderr, "RSS before extraction %.0f MB\n", rss_before / 1024.0);
    std::fflush(stdout);
    std::remove(path.c_str());
    std::remove(ibd.c_str());
  }
  return 0;
}
