// Runs every kernel family at the portable (scalar) level on fixed pseudo-random data and
// prints checksums of the outputs: binning, a deep walked tree plus small trees (labels and
// probabilities), the few-row path, raw float trees, and a vote with two KNN members (L1, L2).
// tools/check_aarch64.sh builds it for x86-64 and for aarch64 and compares the two outputs.
// An argument (scalar, avx2, avx512) selects another level where the build has it.
#include "compiled_pipeline.hpp"
#include <cstdio>
#include <cstring>
#include <random>
using namespace greenauto;
static uint64_t fnv(const void* p, size_t n, uint64_t h = 1469598103934665603ull) {
  auto* b = static_cast<const unsigned char*>(p); for (size_t i = 0; i < n; ++i) { h ^= b[i]; h *= 1099511628211ull; } return h; }
int main(int argc, char** argv) {
  set_active_isa(argc > 1 ? parse_isa(argv[1]) : Isa::kScalar);
  std::mt19937 g(7); const int64_t nf = 12, n = 3000;
  std::vector<int64_t> nb(nf);
  for (int64_t j = 0; j < nf; ++j) nb[j] = j % 3 == 0 ? 9 : (j % 3 == 1 ? 64 : 255);
  std::vector<double> e2(nf * 254); for (int64_t j = 0; j < nf; ++j) for (int k = 0; k < 254; ++k) e2[j*254+k] = (k - 127.0) / 16.0;
  BinningKernel bk(e2.data(), nf, 254, nb.data());
  std::vector<float> X(n * nf);
  for (auto& x : X) { uint32_t r = g(); x = (r % 100 == 0) ? NAN : (r % 101 == 0 ? INFINITY : (int(r % 20000) - 10000) / 997.0f); }
  std::vector<int64_t> cols(nf); for (int64_t j = 0; j < nf; ++j) cols[j] = j;
  std::vector<uint8_t> codes(n * nf); bk.transform<float>(X.data(), n, nf, 1, cols.data(), nf, codes.data(), 1);
  printf("binning %016llx\n", (unsigned long long)fnv(codes.data(), codes.size()));
  CompiledPipeline p(bk, cols, nf, 3, Vote::kHard);
  // a deep random tree (walk) and 20 small trees, multiclass mean output
  std::vector<int64_t> ts{0}; std::vector<int32_t> feat, left, right, off; std::vector<double> thr, vals; std::vector<uint8_t> ml;
  auto add_tree = [&](int nodes) { int64_t base = feat.size(); std::vector<int> open{0}; int used = 1;
    feat.resize(base + nodes); left.resize(base + nodes); right.resize(base + nodes); thr.resize(base + nodes); ml.resize(base + nodes); vals.resize((base + nodes) * 3);
    for (int k = 0; k < nodes; ++k) { bool split = used + 2 <= nodes && (g() % 4 != 0 || k == 0);
      if (split && k < used) { feat[base+k] = g() % nf; thr[base+k] = g() % 256 - 1.0; left[base+k] = base + used; right[base+k] = base + used + 1; used += 2; }
      else { feat[base+k] = 0; thr[base+k] = 0; left[base+k] = right[base+k] = -1; }
      double a = g() % 7, b = g() % 5, c = g() % 3 + 1; vals[(base+k)*3] = a/(a+b+c); vals[(base+k)*3+1] = b/(a+b+c); vals[(base+k)*3+2] = c/(a+b+c); }
    // unreachable trailing nodes: make the tree exactly `used` nodes
    feat.resize(base + used); left.resize(base + used); right.resize(base + used); thr.resize(base + used); ml.resize(base + used); vals.resize((base + used) * 3);
    ts.push_back(feat.size()); off.push_back(0); };
  add_tree(900); for (int t = 0; t < 20; ++t) add_tree(40);
  ForestArrays a{ts.data(), (int64_t)ts.size() - 1, feat.data(), thr.data(), left.data(), right.data(), ml.data(), vals.data(), (int64_t)feat.size(), 3, off.data(), 3, nf, TreeOutput::kMean, 1.0};
  p.add(std::make_unique<TreeMember<BinNode>>(a), {0, 1, 2});
  std::vector<int32_t> kf(nf); for (int64_t j = 0; j < nf; ++j) kf[j] = j;
  std::vector<int32_t> kl(500); for (auto& l : kl) l = g() % 3;
  std::vector<uint8_t> kt(codes.begin(), codes.begin() + 500 * nf);
  p.add(std::make_unique<KnnMember>(KnnBinned(kf.data(), nf, nf, kt.data(), 500, kl.data(), 3, 5, 2)), {0, 1, 2});
  p.add(std::make_unique<KnnMember>(KnnBinned(kf.data(), nf, nf, kt.data(), 500, kl.data(), 3, 3, 1)), {0, 1, 2});
  std::vector<int64_t> labels(n);
  p.predict<float>(X.data(), n, nf, 1, labels.data(), nullptr, 1);
  printf("vote %016llx\n", (unsigned long long)fnv(labels.data(), labels.size() * 8));
  std::vector<double> vp(n * 3);
  p.predict<float>(X.data(), n, nf, 1, labels.data(), vp.data(), 1);
  printf("vote proba %016llx\n", (unsigned long long)fnv(vp.data(), vp.size() * 8));
  CompiledPipeline single(bk, cols, nf, 3, Vote::kHard);
  single.add(std::make_unique<TreeMember<BinNode>>(a), {0, 1, 2});
  std::vector<double> proba(n * 3);
  single.predict<float>(X.data(), n, nf, 1, labels.data(), proba.data(), 1);
  printf("trees %016llx %016llx\n", (unsigned long long)fnv(labels.data(), labels.size() * 8), (unsigned long long)fnv(proba.data(), proba.size() * 8));
  single.predict<float>(X.data(), 5, nf, 1, labels.data(), proba.data(), 1);
  printf("rows %016llx\n", (unsigned long long)fnv(proba.data(), 15 * 8));
  CompiledPipeline raw(std::nullopt, {}, nf, 3, Vote::kHard);
  raw.add(std::make_unique<TreeMember<RawNode>>(a), {0, 1, 2});
  raw.predict<float>(X.data(), n, nf, 1, labels.data(), proba.data(), 1);
  printf("raw %016llx %016llx\n", (unsigned long long)fnv(labels.data(), labels.size() * 8), (unsigned long long)fnv(proba.data(), proba.size() * 8));
}
