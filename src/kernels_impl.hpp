// The hot loops, written once and compiled once per instruction-set level.
//
// Included only by kernels_<level>.cpp, each of which defines GREENAUTO_KNS (the namespace that
// keeps its symbols apart from the other levels') and at most one of GREENAUTO_LEVEL_AVX512 /
// GREENAUTO_LEVEL_AVX2, and compiles with the matching -m flags. Nothing here allocates,
// throws or uses the standard library's templates (their out-of-line copies would be shared
// between levels by the linker); every level adds the same numbers in the same order.
//
// Trees: Quickscorer (Lucchese et al., SIGIR 2015) vectorised over 64 rows as in RapidScorer
// (Ye et al., KDD 2018), with byte compares since binned thresholds are bytes, for trees of at
// most 64 leaves (AVX-512; AVX2 up to 32 leaves). Deeper trees: their top kTopDepth levels by
// the same Quickscorer code (the nodes at that depth as its leaves), then a branch-free walk of
// 16 interleaved rows from the exit node (the whole walk at the scalar level). Forests of
// probability leaves add, for labels, integer leaf values to uint32 sums, 8 or 16 classes per
// vector add. KNN: byte SAD (L1) and 16-bit multiply-add (L2) distances, 32
// training rows at a time, with an exact early exit (partial distances only grow).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>

#include "kernels.hpp"
#if defined(__x86_64__) && defined(__linux__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(GREENAUTO_LEVEL_AVX512) || defined(GREENAUTO_LEVEL_AVX2)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace greenauto {
namespace GREENAUTO_KNS {
namespace {

using std::int32_t;
using std::int64_t;
using std::uint32_t;
using std::uint64_t;
using std::uint8_t;

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

// ============================================================================ trees: walk
// The accumulators of block b of a call (kernels.hpp: float64, or uint32 with integer leaves).
inline void* acc_block(const ForestView& f, void* acc, int64_t b) {
    if (f.quantized8 != nullptr) return static_cast<uint16_t*>(acc) + b * f.qwidth * kBlockRows;
    if (f.quantized != nullptr) return static_cast<uint32_t*>(acc) + b * f.qwidth * kBlockRows;
    return static_cast<double*>(acc) + b * f.n_outputs * kBlockRows;
}

#if defined(GREENAUTO_LEVEL_AVX512) || defined(GREENAUTO_LEVEL_AVX2)
// One vector of leaf values widened and added to the accumulators at a: 16-bit leaves to uint32
// sums, byte leaves to uint16 sums (8 or 16 lanes in 256 bits, 16 or 32 in 512).
inline void widen_add256(const uint16_t* q, uint32_t* a) {
    auto* ac = reinterpret_cast<__m256i*>(a);
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)));
    _mm256_storeu_si256(ac, _mm256_add_epi32(_mm256_loadu_si256(ac), v));
}
inline void widen_add256(const uint8_t* q, uint16_t* a) {
    auto* ac = reinterpret_cast<__m256i*>(a);
    const __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)));
    _mm256_storeu_si256(ac, _mm256_add_epi16(_mm256_loadu_si256(ac), v));
}
#endif
#if defined(GREENAUTO_LEVEL_AVX512)
inline void widen_add512(const uint16_t* q, uint32_t* a) {
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)));
    _mm512_storeu_si512(a, _mm512_add_epi32(_mm512_loadu_si512(a), v));
}
inline void widen_add512(const uint8_t* q, uint16_t* a) {
    const __m512i v = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)));
    _mm512_storeu_si512(a, _mm512_add_epi16(_mm512_loadu_si512(a), v));
}
#endif

// An integer leaf row (qw values; when qw > kNarrowWidth a multiple of the 256-bit lane count)
// added to one row's accumulators: uint16 leaves to uint32 sums, byte leaves to uint16 sums
// (which never wrap: at most 255 x 257).
template <typename Leaf, typename Sum>
inline void add_quantized(const Leaf* q, int64_t qw, Sum* a) {
#if defined(GREENAUTO_LEVEL_AVX512) || defined(GREENAUTO_LEVEL_AVX2)
    if (rows_major(qw)) {
        constexpr int64_t lanes = 32 / static_cast<int64_t>(sizeof(Sum));  // per 256 bits
        int64_t c = 0;
#if defined(GREENAUTO_LEVEL_AVX512)
        for (; c + 2 * lanes <= qw; c += 2 * lanes) widen_add512(q + c, a + c);
#endif
        for (; c < qw; c += lanes) widen_add256(q + c, a + c);
        return;
    }
#endif
    for (int64_t c = 0; c < qw; ++c) a[c] = static_cast<Sum>(a[c] + q[c]);
}

// Leaf `leaf` (global id) of tree t added to row r of a block's accumulators.
inline void add_leaf(const ForestView& f, const TreeInfo& t, int64_t leaf, int64_t r,
                     void* acc) {
    const int64_t w = f.width;
    // integer sums (the trees all add to outputs 0 .. width - 1)
    if (f.quantized8 != nullptr) {
        add_quantized(f.quantized8 + leaf * f.qwidth, f.qwidth,
                       static_cast<uint16_t*>(acc) + r * f.qwidth);
        return;
    }
    if (f.quantized != nullptr) {
        add_quantized(f.quantized + leaf * f.qwidth, f.qwidth,
                      static_cast<uint32_t*>(acc) + r * f.qwidth);
        return;
    }
    const double* v = f.value + leaf * w;
    double* da = static_cast<double*>(acc);
    if (w == 1) {
        da[t.out * kBlockRows + r] += v[0];
    } else if (!rows_major(w)) {
        for (int64_t c = 0; c < w; ++c) da[(t.out + c) * kBlockRows + r] += v[c];
    } else {
        double* a = da + r * f.n_outputs + t.out;
        for (int64_t c = 0; c < w; ++c) a[c] += v[c];
    }
}

// Two classes: a leaf's two 16-bit values widened into the halves of one 64-bit word, and
// such a word added to a row's two uint32 sums (low one first, little-endian) in one add:
// each half stays below 2^32 (at most 65535 x 65535), so no carry crosses.
inline uint64_t leaf_pair(const uint16_t* q) {
    uint32_t x;
    std::memcpy(&x, q, sizeof x);
    return (x & 0xFFFFu) | (static_cast<uint64_t>(x >> 16) << 32);
}
inline void add_pair(uint32_t* a, uint64_t v) {
    uint64_t sums;
    std::memcpy(&sums, a, sizeof sums);
    sums += v;
    std::memcpy(a, &sums, sizeof sums);
}

// Byte leaf rows of QW values added to n rows of uint16 sums (QW known: no loop control).
template <int64_t QW, typename LeafOf>
inline void add_rows8(const ForestView& f, LeafOf leaf, int64_t n, uint16_t* a) {
    for (int64_t r = 0; r < n; ++r) add_quantized(f.quantized8 + leaf(r) * QW, QW, a + r * QW);
}

// Leaves leaf(0) .. leaf(n - 1) (global ids) of tree t added to rows g .. g + n - 1 of a
// block's accumulators, with a loop per kind of leaf row (no per-row branches).
template <typename LeafOf>
inline void add_leaves(const ForestView& f, const TreeInfo& t, LeafOf leaf, int64_t g, int64_t n,
                       void* acc) {
    if (f.width == 1) {
        double* a = static_cast<double*>(acc) + t.out * kBlockRows + g;
        for (int64_t r = 0; r < n; ++r) a[r] += f.value[leaf(r)];
        return;
    }
    if (f.quantized8 != nullptr) {  // the common many-class case: up to 32 classes unrolled
        const int64_t qw = f.qwidth;
        uint16_t* a = static_cast<uint16_t*>(acc) + g * qw;
        if (qw == 16) add_rows8<16>(f, leaf, n, a);
        else if (qw == 32) add_rows8<32>(f, leaf, n, a);
        else for (int64_t r = 0; r < n; ++r) add_quantized(f.quantized8 + leaf(r) * qw, qw, a + r * qw);
        return;
    }
    if (f.quantized != nullptr && f.qwidth == 2) {  // two classes: one 64-bit add (leaf_pair)
        uint32_t* a = static_cast<uint32_t*>(acc) + 2 * g;
        for (int64_t r = 0; r < n; ++r) add_pair(a + 2 * r, leaf_pair(f.quantized + 2 * leaf(r)));
        return;
    }
    for (int64_t r = 0; r < n; ++r) add_leaf(f, t, leaf(r), g + r, acc);
}

// Leaf values of the walk leaves idx[0..n) of rows g.. of a block added to their outputs
// (idx relative to the tree's base).
inline void add_walk_leaves(const ForestView& f, const TreeInfo& t, const uint32_t* idx,
                            int64_t g, int64_t n, void* acc) {
    const int32_t* leaf_of = f.leaf_of + t.base;
    add_leaves(f, t, [leaf_of, idx](int64_t r) { return int64_t{leaf_of[idx[r]]}; }, g, n, acc);
}

// One step of a binned walk: the node read in one 8-byte load (WalkNodeU8: next, feature8;
// little-endian), the row's code of its feature (at feature8 >> shift: 0 in groups of 8 rows,
// 3 in a row), and the child (next + code) >> 8, relative to the tree's base.
template <int shift>
inline uint32_t step_u8(const WalkNodeU8* nd, const uint8_t* row) {
    uint64_t w;
    std::memcpy(&w, nd, sizeof w);
    const uint32_t v = row[(w >> 32) >> shift];
    return (static_cast<uint32_t>(w) + v) >> 8;
}

constexpr int kChains = 16;  // rows stepped together through one tree (independent loads)

// rows8: this block's rows in groups of 8 (kernels.hpp).
// Rows start at the root (start null, t.depth steps) or row r at node start[r] (`steps` steps).
inline void walk_u8(const ForestView& f, const TreeInfo& t, const uint8_t* rows8, int64_t n,
                    const uint32_t* start, int32_t steps, void* acc) {
    const WalkNodeU8* nodes = f.nodes_u8 + t.base;
    const auto root = static_cast<uint32_t>(t.root - t.base);
    const int64_t group = f.n_features * 8;
    for (int64_t g = 0; g < n; g += kChains) {
        uint32_t idx[kChains];
        for (int r = 0; r < kChains; ++r) idx[r] = start ? start[g + r] : root;
        const uint8_t* lo = rows8 + (g / 8) * group;  // rows g .. g + 7
        const uint8_t* hi = lo + group;                // rows g + 8 .. g + 15
        for (int32_t s = 0; s < steps; ++s)
            for (int r = 0; r < kChains; ++r)
                idx[r] = step_u8<0>(nodes + idx[r], (r < 8 ? lo : hi) + (r % 8));
        add_walk_leaves(f, t, idx, g, min64(kChains, n - g), acc);
    }
}

inline void walk_f64(const ForestView& f, const TreeInfo& t, const double* cols, int64_t n,
                     void* acc) {
    const WalkNodeF* nodes = f.nodes_f + t.base;
    const auto root = static_cast<uint32_t>(t.root - t.base);
    for (int64_t g = 0; g < n; g += kChains) {
        uint32_t idx[kChains];
        for (int r = 0; r < kChains; ++r) idx[r] = root;
        const double* c = cols + g;
        for (int32_t s = 0; s < t.depth; ++s)
            for (int r = 0; r < kChains; ++r) {
                const WalkNodeF* nd = nodes + idx[r];
                const double v = (c + r)[static_cast<uint64_t>(nd->word >> 1) * kBlockRows];
                const bool right = (v > nd->threshold) | ((nd->word & 1u) & (v != v));
                idx[r] = nd->left + static_cast<uint32_t>(right);
            }
        add_walk_leaves(f, t, idx, g, min64(kChains, n - g), acc);
    }
}

constexpr int kRowChains = 16;  // trees stepped together for one row

// Trees t0 .. t0 + kt - 1 (kt <= kRowChains) stepped together for one row, the loads of their
// independent chains overlapping (the latency path): tree t from node start(t) (relative to
// its base) for steps_of(t) steps, all for the most of them (a leaf points to itself); the
// exit nodes (relative to their bases) in idx. step(node): the child of an absolute node,
// relative to its base. A forest of one segment (nearly every one) steps by absolute indices,
// one register per chain; else each chain adds its base per step.
// Chains 0 .. C - 1 of chain_trees stepped `steps` times: by absolute indices (one segment),
// else each adding its base.
template <int C, typename Step>
inline void step_chains(bool one_segment, int32_t steps, const uint32_t* base, Step step,
                        uint32_t* idx) {
    if (one_segment) {
        for (int32_t s = 0; s < steps; ++s)
            for (int k = 0; k < C; ++k) idx[k] = step(idx[k]);
        return;
    }
    for (int32_t s = 0; s < steps; ++s)
        for (int k = 0; k < C; ++k) idx[k] = step(base[k] + idx[k]);
}

template <typename Start, typename StepsOf, typename Step>
inline void chain_trees(const ForestView& f, int64_t t0, int kt, Start start, StepsOf steps_of,
                        Step step, uint32_t* idx) {
    int32_t steps = 0;
    for (int k = 0; k < kRowChains; ++k) {
        const int64_t t = t0 + (k < kt ? k : 0);
        idx[k] = start(t);
        const int32_t st = steps_of(f.trees[t]);
        if (k < kt && st > steps) steps = st;
    }
    uint32_t base[kRowChains] = {};
    if (!f.one_segment)
        for (int k = 0; k < kRowChains; ++k)
            base[k] = static_cast<uint32_t>(f.trees[t0 + (k < kt ? k : 0)].base);
    // as many chains as trees, in steps of 1, 4 and 16 (a one-tree model steps one chain)
    if (kt == 1) return step_chains<1>(f.one_segment, steps, base, step, idx);
    if (kt <= 4) return step_chains<4>(f.one_segment, steps, base, step, idx);
    step_chains<kRowChains>(f.one_segment, steps, base, step, idx);
}

// The exit walk nodes idx[k] of trees t0 .. t0 + kt - 1 for row r added to its accumulators:
// integer leaf rows summed in registers first (one accumulator row: adding tree by tree in
// memory would wait on the previous tree's store each time), in tree order either way.
inline void row_leaves(const ForestView& f, int64_t t0, int kt, const uint32_t* idx, int64_t r,
                       void* acc) {
    auto leaf = [&f, t0, idx](int k) { return int64_t{f.leaf_of[f.trees[t0 + k].base + idx[k]]}; };
#if defined(GREENAUTO_LEVEL_AVX512)
    if (f.quantized8 != nullptr && f.qwidth == 32) {
        __m512i sum = _mm512_setzero_si512();
        for (int k = 0; k < kt; ++k)
            sum = _mm512_add_epi16(sum, _mm512_cvtepu8_epi16(_mm256_loadu_si256(
                                            reinterpret_cast<const __m256i*>(f.quantized8 + leaf(k) * 32))));
        uint16_t* a = static_cast<uint16_t*>(acc) + r * 32;
        _mm512_storeu_si512(a, _mm512_add_epi16(_mm512_loadu_si512(a), sum));
        return;
    }
#endif
#if defined(GREENAUTO_LEVEL_AVX512) || defined(GREENAUTO_LEVEL_AVX2)
    if (f.quantized8 != nullptr && f.qwidth == 16) {
        __m256i sum = _mm256_setzero_si256();
        for (int k = 0; k < kt; ++k)
            sum = _mm256_add_epi16(sum, _mm256_cvtepu8_epi16(_mm_loadu_si128(
                                            reinterpret_cast<const __m128i*>(f.quantized8 + leaf(k) * 16))));
        auto* a = reinterpret_cast<__m256i*>(static_cast<uint16_t*>(acc) + r * 16);
        _mm256_storeu_si256(a, _mm256_add_epi16(_mm256_loadu_si256(a), sum));
        return;
    }
#endif
    if (f.quantized != nullptr && f.qwidth == 2) {  // as add_leaves: both sums in 64 bits
        uint64_t sum = 0;
        for (int k = 0; k < kt; ++k) sum += leaf_pair(f.quantized + 2 * leaf(k));
        add_pair(static_cast<uint32_t*>(acc) + 2 * r, sum);
        return;
    }
    for (int k = 0; k < kt; ++k) add_walk_leaves(f, f.trees[t0 + k], idx + k, r, 1, acc);
}

// A few rows read row-major, every tree walked from its root, kRowChains trees at a time.
template <typename In, typename Step>
inline void rows_by_tree(const ForestView& f, const In* x, int64_t stride, int64_t n,
                         void* acc, Step step) {
    for (int64_t r = 0; r < n; ++r) {
        const In* row = x + r * stride;
        for (int64_t t0 = 0; t0 < f.n_trees; t0 += kRowChains) {
            const int kt = static_cast<int>(min64(kRowChains, f.n_trees - t0));
            uint32_t idx[kRowChains];
            chain_trees(
                f, t0, kt,
                [&f](int64_t t) { return static_cast<uint32_t>(f.trees[t].root - f.trees[t].base); },
                [](const TreeInfo& t) { return t.depth; },
                [row, &step](uint32_t i) { return step(i, row); }, idx);
            row_leaves(f, t0, kt, idx, r, acc);
        }
    }
}

#if defined(GREENAUTO_LEVEL_AVX512)
// A few rows, 64 trees at a time, 16 per register: each step gathers the 16 nodes (8 bytes
// each, at base + relative index) and the row's codes of their features (4-byte gathers: the
// row is readable 3 bytes past its last code), then takes the child (next + code) >> 8.
// Leaves added in tree order.
inline void tree_rows_u8_gather(const ForestView& f, const uint8_t* x, int64_t stride, int64_t n,
                                void* acc) {
    constexpr int kLanes = 16, kRegs = 4, kTrees = kLanes * kRegs;
    const void* nodes = f.nodes_u8;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i low_byte = _mm512_set1_epi32(0xFF);
    for (int64_t r = 0; r < n; ++r) {
        const uint8_t* row = x + r * stride;
        for (int64_t t0 = 0; t0 < f.n_trees; t0 += kTrees) {
            const int kt = static_cast<int>(min64(kTrees, f.n_trees - t0));
            alignas(64) uint32_t idx[kTrees], base_of[kTrees];
            int32_t depth = 0;
            for (int k = 0; k < kTrees; ++k) {
                const TreeInfo& t = f.trees[t0 + (k < kt ? k : 0)];
                base_of[k] = static_cast<uint32_t>(t.base);
                idx[k] = static_cast<uint32_t>(t.root - t.base);
                if (k < kt && t.depth > depth) depth = t.depth;
            }
            __m512i v[kRegs], base[kRegs];
            for (int q = 0; q < kRegs; ++q) {
                base[q] = _mm512_load_si512(base_of + kLanes * q);
                v[q] = _mm512_load_si512(idx + kLanes * q);
            }
            for (int32_t s = 0; s < depth; ++s)
                for (int q = 0; q < kRegs; ++q) {
                    const __m512i at = _mm512_add_epi32(base[q], v[q]);
                    const __m512i lo = _mm512_i32gather_epi64(_mm512_castsi512_si256(at), nodes, 8);
                    const __m512i hi =
                        _mm512_i32gather_epi64(_mm512_extracti64x4_epi64(at, 1), nodes, 8);
                    const __m512i next = _mm512_permutex2var_epi32(lo, even, hi);
                    const __m512i feat8 = _mm512_permutex2var_epi32(lo, odd, hi);
                    const __m512i code = _mm512_and_si512(
                        _mm512_i32gather_epi32(_mm512_srli_epi32(feat8, 3), row, 1), low_byte);
                    v[q] = _mm512_srli_epi32(_mm512_add_epi32(next, code), 8);
                }
            for (int q = 0; q < kRegs; ++q) _mm512_store_si512(idx + kLanes * q, v[q]);
            row_leaves(f, t0, kt, idx, r, acc);
        }
    }
}

// The lowest bit set in each 32-bit lane (the exit slot of a Quickscorer bitvector).
inline __m512i lowest_bit32(__m512i v) {
    const __m512i low = _mm512_and_si512(v, _mm512_sub_epi32(_mm512_setzero_si512(), v));
    return _mm512_sub_epi32(_mm512_set1_epi32(31), _mm512_lzcnt_epi32(low));
}

// A row's (at most 128) codes, 16 bits each, 32 per register: codes [32q, 32q + 32) in c[q].
template <bool Wide>
struct RowCodes16 {
    __m512i c[Wide ? 4 : 2];
    RowCodes16(const uint8_t* row, int64_t n) {
        for (int h = 0; h < (Wide ? 2 : 1); ++h) {
            const int64_t m = min64(64, n - 64 * h);
            const __mmask64 used = m >= 64 ? ~__mmask64{0} : (__mmask64{1} << m) - 1;
            const __m512i b = _mm512_maskz_loadu_epi8(used, row + 64 * h);
            c[2 * h] = _mm512_cvtepu8_epi16(_mm512_castsi512_si256(b));
            c[2 * h + 1] = _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(b, 1));
        }
    }
    // The codes of the 32 features f (16-bit lanes).
    __m512i operator()(__m512i f) const {
        const __m512i a = _mm512_permutex2var_epi16(c[0], f, c[1]);
        if constexpr (!Wide) return a;
        const __m512i b = _mm512_permutex2var_epi16(c[2], f, c[3]);
        return _mm512_mask_blend_epi16(_mm512_test_epi16_mask(f, _mm512_set1_epi16(64)), a, b);
    }
};

// A few rows, 64 trees at a time (ForestView::row_*): the top of every tree (a small tree
// whole) by Quickscorer across the trees, a 16-bit lane per tree: the row's codes of the 64
// trees' node features by permutes of its (at most 128) codes, compared with the nodes'
// thresholds, clear the bitvectors of the trees whose node test fails. From each tree's exit,
// the rest of it walked by chain_trees, as rows_by_tree walks from the roots: about half the
// dependent steps of walking from the roots. Leaves added in tree order.
template <bool Wide>
inline void tree_rows_u8_top(const ForestView& f, const uint8_t* x, int64_t stride, int64_t n,
                             void* acc) {
    constexpr int kGroup = 64;
    const int64_t slots = f.row_slots;
    const WalkNodeU8* nodes = f.nodes_u8;
    for (int64_t r = 0; r < n; ++r) {
        const uint8_t* row = x + r * stride;
        const RowCodes16<Wide> code_of(row, f.n_features);
        for (int64_t t0 = 0; t0 < f.n_trees; t0 += kGroup) {
            const int64_t at = (t0 / kGroup) * slots * kGroup;
            const uint16_t* fe = f.row_feature + at;
            const uint16_t* th = f.row_threshold + at;
            const uint32_t* mk = f.row_mask + at;
            __m512i v0 = _mm512_set1_epi32(-1), v1 = v0, v2 = v0, v3 = v0;
            for (int64_t s = 0; s < slots; ++s, fe += kGroup, th += kGroup, mk += kGroup) {
                const __m512i c0 = code_of(_mm512_loadu_si512(fe));
                const __m512i c1 = code_of(_mm512_loadu_si512(fe + 32));
                const __mmask32 k0 = _mm512_cmpgt_epu16_mask(c0, _mm512_loadu_si512(th));
                const __mmask32 k1 = _mm512_cmpgt_epu16_mask(c1, _mm512_loadu_si512(th + 32));
                v0 = _mm512_mask_and_epi32(v0, static_cast<__mmask16>(k0), v0,
                                           _mm512_loadu_si512(mk));
                v1 = _mm512_mask_and_epi32(v1, static_cast<__mmask16>(k0 >> 16), v1,
                                           _mm512_loadu_si512(mk + 16));
                v2 = _mm512_mask_and_epi32(v2, static_cast<__mmask16>(k1), v2,
                                           _mm512_loadu_si512(mk + 32));
                v3 = _mm512_mask_and_epi32(v3, static_cast<__mmask16>(k1 >> 16), v3,
                                           _mm512_loadu_si512(mk + 48));
            }
            alignas(64) uint32_t exit[kGroup];  // lowest bit left set: the exit slot
            const __m512i vs[4] = {v0, v1, v2, v3};
            for (int q = 0; q < 4; ++q) _mm512_store_si512(exit + 16 * q, lowest_bit32(vs[q]));
            const int64_t t_end = min64(f.n_trees, t0 + kGroup);
            for (int64_t c0 = t0; c0 < t_end; c0 += kRowChains) {
                const int kt = static_cast<int>(min64(kRowChains, t_end - c0));
                uint32_t idx[kRowChains];
                chain_trees(
                    f, c0, kt,
                    [&f, &exit, t0](int64_t t) {
                        return f.top_walk[f.trees[t].top_entry + exit[t - t0]];
                    },
                    [](const TreeInfo& t) { return t.top_steps; },
                    [nodes, row](uint32_t i) { return step_u8<3>(nodes + i, row); }, idx);
                row_leaves(f, c0, kt, idx, r, acc);
            }
        }
    }
}

// The path asked for (RowPath; the top only where the forest has it, ForestView::row_feature).
void tree_rows_u8(const ForestView& f, const uint8_t* x, int64_t stride, int64_t n, void* acc,
                  RowPath path) {
    if (path == RowPath::kGather) return tree_rows_u8_gather(f, x, stride, n, acc);
    if (path == RowPath::kTop && f.row_feature != nullptr)
        return f.n_features > 64 ? tree_rows_u8_top<true>(f, x, stride, n, acc)
                                 : tree_rows_u8_top<false>(f, x, stride, n, acc);
    const WalkNodeU8* nodes = f.nodes_u8;
    rows_by_tree(f, x, stride, n, acc, [nodes](uint32_t i, const uint8_t* row) {
        return step_u8<3>(nodes + i, row);
    });
}
constexpr unsigned kRowPathsHere =
    row_path_bit(RowPath::kWalk) | row_path_bit(RowPath::kTop) | row_path_bit(RowPath::kGather);
#else
void tree_rows_u8(const ForestView& f, const uint8_t* x, int64_t stride, int64_t n, void* acc,
                  RowPath) {
    const WalkNodeU8* nodes = f.nodes_u8;
    rows_by_tree(f, x, stride, n, acc, [nodes](uint32_t i, const uint8_t* row) {
        return step_u8<3>(nodes + i, row);
    });
}
constexpr unsigned kRowPathsHere = row_path_bit(RowPath::kWalk);
#endif

void tree_rows_f64(const ForestView& f, const double* x, int64_t stride, int64_t n,
                   void* acc) {
    const WalkNodeF* nodes = f.nodes_f;
    rows_by_tree(f, x, stride, n, acc, [nodes](uint32_t i, const double* row) {
        const WalkNodeF* nd = nodes + i;
        const double v = row[nd->word >> 1];
        return nd->left + static_cast<uint32_t>((v > nd->threshold) | ((nd->word & 1u) & (v != v)));
    });
}

// ====================================================================== trees: quickscorer
// Exit leaves (local, 0-based) of a tree for the rows of a block, added to acc.
inline void add_qs_leaves(const ForestView& f, const TreeInfo& t, const uint32_t* leaf,
                          int64_t n, void* acc) {
    const int64_t first = t.leaf_begin;
    add_leaves(f, t, [first, leaf](int64_t r) { return first + leaf[r]; }, 0, n, acc);
}

// A tree's Quickscorer nodes: column offsets, thresholds, bitvectors.
struct QsNodes {
    const uint32_t* off;
    const uint8_t* thr;
    const uint64_t* mask;
    int32_t n;
};
inline QsNodes qs_nodes(const ForestView& f, const TreeInfo& t) {
    return {f.qs_offset + t.qs_begin, f.qs_threshold + t.qs_begin, f.qs_mask + t.qs_begin,
            t.qs_nodes};
}
inline QsNodes top_nodes(const ForestView& f, const TreeInfo& t) {
    return {f.qs_offset + t.top_begin, f.qs_threshold + t.top_begin, f.qs_mask + t.top_begin,
            t.top_nodes};
}

#if defined(GREENAUTO_LEVEL_AVX512)
// Leaf values of 8 rows (leaf slots in 64-bit lanes) from a tree's padded value table.
template <int L>
inline __m512d qs_values(const double* v, __m512i i) {
    const __m512d a = _mm512_permutex2var_pd(_mm512_loadu_pd(v), i, _mm512_loadu_pd(v + 8));
    if constexpr (L == 16) return a;
    const __m512d b =
        _mm512_permutex2var_pd(_mm512_loadu_pd(v + 16), i, _mm512_loadu_pd(v + 24));
    const __m512d ab = _mm512_mask_blend_pd(_mm512_test_epi64_mask(i, _mm512_set1_epi64(16)), a, b);
    if constexpr (L == 32) return ab;
    const __m512d c =
        _mm512_permutex2var_pd(_mm512_loadu_pd(v + 32), i, _mm512_loadu_pd(v + 40));
    const __m512d d =
        _mm512_permutex2var_pd(_mm512_loadu_pd(v + 48), i, _mm512_loadu_pd(v + 56));
    const __m512d cd = _mm512_mask_blend_pd(_mm512_test_epi64_mask(i, _mm512_set1_epi64(16)), c, d);
    return _mm512_mask_blend_pd(_mm512_test_epi64_mask(i, _mm512_set1_epi64(32)), ab, cd);
}

template <int L>
inline void qs_add_8(const ForestView& f, const TreeInfo& t, __m512i leaf64, int64_t r,
                     void* acc) {
    double* a = static_cast<double*>(acc) + t.out * kBlockRows + r;
    _mm512_storeu_pd(a, _mm512_add_pd(_mm512_loadu_pd(a), qs_values<L>(f.value + t.leaf_begin,
                                                                         leaf64)));
}

// Exit slots (lowest bit left set) of a block's 64 rows through QS nodes of at most 32 leaves:
// 16 rows per register of 32-bit bitvectors, rows 16j .. 16j + 15 in l[j].
inline void qs32_exits(const QsNodes& q, const uint8_t* cols, __m512i* l) {
    __m512i v0 = _mm512_set1_epi32(-1), v1 = v0, v2 = v0, v3 = v0;
    for (int32_t i = 0; i < q.n; ++i) {
        const __mmask64 k = _mm512_cmpgt_epu8_mask(_mm512_loadu_si512(cols + q.off[i]),
                                                  _mm512_set1_epi8(static_cast<char>(q.thr[i])));
        const __m512i m = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(q.mask[i])));
        v0 = _mm512_mask_and_epi32(v0, static_cast<__mmask16>(k), v0, m);
        v1 = _mm512_mask_and_epi32(v1, static_cast<__mmask16>(k >> 16), v1, m);
        v2 = _mm512_mask_and_epi32(v2, static_cast<__mmask16>(k >> 32), v2, m);
        v3 = _mm512_mask_and_epi32(v3, static_cast<__mmask16>(k >> 48), v3, m);
    }
    const __m512i vs[4] = {v0, v1, v2, v3};
    for (int j = 0; j < 4; ++j) l[j] = lowest_bit32(vs[j]);
}

// Trees of at most 32 leaves.
template <int L>
inline void qs32(const ForestView& f, const TreeInfo& t, const uint8_t* cols, int64_t n,
                 void* acc) {
    __m512i l[4];
    qs32_exits(qs_nodes(f, t), cols, l);
    alignas(64) uint32_t leaf[kBlockRows];
    for (int j = 0; j < 4; ++j) {
        if (f.width == 1) {
            qs_add_8<L>(f, t, _mm512_cvtepu32_epi64(_mm512_castsi512_si256(l[j])), 16 * j, acc);
            qs_add_8<L>(f, t, _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(l[j], 1)),
                        16 * j + 8, acc);
        } else {
            _mm512_store_si512(leaf + 16 * j, l[j]);
        }
    }
    if (f.width != 1) add_qs_leaves(f, t, leaf, n, acc);
}

// Walk start of a block's 64 rows: the node their top layout exits to (TreeInfo::top_steps;
// relative to the root).
inline void top_starts(const ForestView& f, const TreeInfo& t, const uint8_t* cols,
                       uint32_t* start) {
    __m512i l[4];
    qs32_exits(top_nodes(f, t), cols, l);
    const uint32_t* entry = f.top_walk + t.top_entry;
    const __m512i lo = _mm512_loadu_si512(entry), hi = _mm512_loadu_si512(entry + 16);
    for (int j = 0; j < 4; ++j)
        _mm512_store_si512(start + 16 * j, _mm512_permutex2var_epi32(lo, l[j], hi));
}

// Trees of 33 to 64 leaves: 8 rows per register of 64-bit bitvectors.
inline void qs64(const ForestView& f, const TreeInfo& t, const uint8_t* cols, int64_t n,
                 void* acc) {
    __m512i v[8];
    for (int j = 0; j < 8; ++j) v[j] = _mm512_set1_epi64(-1);
    const QsNodes q = qs_nodes(f, t);
    for (int32_t i = 0; i < q.n; ++i) {
        const __mmask64 k = _mm512_cmpgt_epu8_mask(_mm512_loadu_si512(cols + q.off[i]),
                                                  _mm512_set1_epi8(static_cast<char>(q.thr[i])));
        const __m512i m = _mm512_set1_epi64(static_cast<long long>(q.mask[i]));
        for (int j = 0; j < 8; ++j)
            v[j] = _mm512_mask_and_epi64(v[j], static_cast<__mmask8>(k >> (8 * j)), v[j], m);
    }
    const __m512i top = _mm512_set1_epi64(63);
    alignas(64) uint32_t leaf[kBlockRows];
    for (int j = 0; j < 8; ++j) {
        const __m512i low = _mm512_and_si512(v[j], _mm512_sub_epi64(_mm512_setzero_si512(), v[j]));
        const __m512i l = _mm512_sub_epi64(top, _mm512_lzcnt_epi64(low));
        if (f.width == 1) qs_add_8<64>(f, t, l, 8 * j, acc);
        else _mm256_store_si256(reinterpret_cast<__m256i*>(leaf + 8 * j), _mm512_cvtepi64_epi32(l));
    }
    if (f.width != 1) add_qs_leaves(f, t, leaf, n, acc);
}

inline bool qs_tree(const ForestView& f, const TreeInfo& t, const uint8_t* cols, int64_t n,
                    void* acc) {
    if (t.qs_leaves == 16) qs32<16>(f, t, cols, n, acc);
    else if (t.qs_leaves == 32) qs32<32>(f, t, cols, n, acc);
    else qs64(f, t, cols, n, acc);
    return true;
}
#define GREENAUTO_HAVE_QS 1

#elif defined(GREENAUTO_LEVEL_AVX2)
// 0xFF in byte r where row r's code <= threshold (the node's test holds).
inline __m256i qs_holds(const uint8_t* c, __m256i thr) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c));
    return _mm256_cmpeq_epi8(_mm256_subs_epu8(x, thr), _mm256_setzero_si256());
}

// Exit slots of a block's 64 rows through QS nodes of at most 32 leaves: 8 rows per register
// of 32-bit bitvectors, 64 rows in 8.
inline void qs32_exits(const QsNodes& q, const uint8_t* cols, uint32_t* leaf) {
    __m256i v[8];  // rows 8j .. 8j + 7: all leaves possible
    for (int j = 0; j < 8; ++j) v[j] = _mm256_set1_epi32(-1);
    for (int32_t i = 0; i < q.n; ++i) {
        const __m256i th = _mm256_set1_epi8(static_cast<char>(q.thr[i]));
        const __m256i m = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(q.mask[i])));
        for (int h = 0; h < 2; ++h) {
            const __m256i holds = qs_holds(cols + q.off[i] + 32 * h, th);
            const __m128i lo = _mm256_castsi256_si128(holds);
            const __m128i hi = _mm256_extracti128_si256(holds, 1);
            __m256i* w = v + 4 * h;
            w[0] = _mm256_and_si256(w[0], _mm256_or_si256(m, _mm256_cvtepi8_epi32(lo)));
            w[1] = _mm256_and_si256(
                w[1], _mm256_or_si256(m, _mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))));
            w[2] = _mm256_and_si256(w[2], _mm256_or_si256(m, _mm256_cvtepi8_epi32(hi)));
            w[3] = _mm256_and_si256(
                w[3], _mm256_or_si256(m, _mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))));
        }
    }
    alignas(32) uint32_t bits[kBlockRows];
    for (int j = 0; j < 8; ++j) _mm256_store_si256(reinterpret_cast<__m256i*>(bits + 8 * j), v[j]);
    for (int64_t r = 0; r < kBlockRows; ++r) leaf[r] = static_cast<uint32_t>(__builtin_ctz(bits[r]));
}

inline void qs32(const ForestView& f, const TreeInfo& t, const uint8_t* cols, int64_t n,
                 void* acc) {
    alignas(32) uint32_t leaf[kBlockRows];
    qs32_exits(qs_nodes(f, t), cols, leaf);
    add_qs_leaves(f, t, leaf, n, acc);
}

// Walk start of a block's 64 rows: the node their top layout exits to (TreeInfo::top_steps;
// relative to the root).
inline void top_starts(const ForestView& f, const TreeInfo& t, const uint8_t* cols,
                       uint32_t* start) {
    qs32_exits(top_nodes(f, t), cols, start);
    const uint32_t* entry = f.top_walk + t.top_entry;
    for (int64_t r = 0; r < kBlockRows; ++r) start[r] = entry[start[r]];
}

// With 4 rows per register, 64-bit bitvectors cost about what the walk does: trees of more
// than 32 leaves are walked.
inline bool qs_tree(const ForestView& f, const TreeInfo& t, const uint8_t* cols, int64_t n,
                    void* acc) {
    if (t.qs_leaves > 32) return false;
    qs32(f, t, cols, n, acc);
    return true;
}
#define GREENAUTO_HAVE_QS 1
#endif

// Every tree over every block of the call (a tree's nodes stay in L1 across its blocks).
void trees_u8(const ForestView& f, const uint8_t* cols, const uint8_t* rows8, int64_t n,
              void* acc) {
    const int64_t col_step = f.n_features * kBlockRows;
    (void)cols;
    for (int64_t t = 0; t < f.n_trees; ++t) {
        const TreeInfo& info = f.trees[t];
        for (int64_t r0 = 0, b = 0; r0 < n; r0 += kBlockRows, ++b) {
            const int64_t m = min64(kBlockRows, n - r0);
#if defined(GREENAUTO_HAVE_QS)
            if (info.qs_leaves && qs_tree(f, info, cols + b * col_step, m, acc_block(f, acc, b)))
                continue;
            if (info.top_steps) {  // the top levels by Quickscorer, the rest walked
                alignas(64) uint32_t start[kBlockRows];
                top_starts(f, info, cols + b * col_step, start);
                walk_u8(f, info, rows8 + b * col_step, m, start, info.top_steps,
                        acc_block(f, acc, b));
                continue;
            }
#endif
            walk_u8(f, info, rows8 + b * col_step, m, nullptr, info.depth, acc_block(f, acc, b));
        }
    }
}

void trees_f64(const ForestView& f, const double* cols, int64_t n, void* acc) {
    const int64_t col_step = f.n_features * kBlockRows;
    for (int64_t t = 0; t < f.n_trees; ++t)
        for (int64_t r0 = 0, b = 0; r0 < n; r0 += kBlockRows, ++b)
            walk_f64(f, f.trees[t], cols + b * col_step, min64(kBlockRows, n - r0),
                     acc_block(f, acc, b));
}

// =========================================================================== transposing
#if defined(__SSE2__)
// 8 rows (8 bytes each, `stride` apart) to 8 features x 8 rows: out[q] holds features 2q (low
// 8 bytes) and 2q + 1 (high 8 bytes).
inline void transpose8x8(const uint8_t* src, int64_t stride, __m128i* out) {
    __m128i row[8];
    for (int i = 0; i < 8; ++i)
        row[i] = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + i * stride));
    const __m128i a0 = _mm_unpacklo_epi8(row[0], row[1]), a1 = _mm_unpacklo_epi8(row[2], row[3]);
    const __m128i a2 = _mm_unpacklo_epi8(row[4], row[5]), a3 = _mm_unpacklo_epi8(row[6], row[7]);
    const __m128i b0 = _mm_unpacklo_epi16(a0, a1), b1 = _mm_unpackhi_epi16(a0, a1);
    const __m128i b2 = _mm_unpacklo_epi16(a2, a3), b3 = _mm_unpackhi_epi16(a2, a3);
    out[0] = _mm_unpacklo_epi32(b0, b2);
    out[1] = _mm_unpackhi_epi32(b0, b2);
    out[2] = _mm_unpacklo_epi32(b1, b3);
    out[3] = _mm_unpackhi_epi32(b1, b3);
}
#endif

// Rows [0, m) of x (row-major bytes, nf per row read, row stride `stride`) into feature-major
// blocks of kBlockRows rows (kernels.hpp), rows past m zeroed.
void transpose_u8(const uint8_t* x, int64_t stride, int64_t m, int64_t nf, uint8_t* out) {
    const int64_t block_step = nf * kBlockRows;
    int64_t r = 0;
#if defined(__SSE2__)
    for (; r + 8 <= m; r += 8) {  // 8 rows x 8 features at a time
        uint8_t* dst = out + (r / kBlockRows) * block_step + r % kBlockRows;
        const uint8_t* src = x + r * stride;
        int64_t f = 0;
        for (; f + 8 <= nf; f += 8) {
            __m128i c[4];
            transpose8x8(src + f, stride, c);
            for (int q = 0; q < 4; ++q) {
                _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + (f + 2 * q) * kBlockRows), c[q]);
                _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + (f + 2 * q + 1) * kBlockRows),
                                 _mm_unpackhi_epi64(c[q], c[q]));
            }
        }
        for (; f < nf; ++f)
            for (int i = 0; i < 8; ++i) dst[f * kBlockRows + i] = src[i * stride + f];
    }
#endif
    for (; r < m; ++r) {
        uint8_t* dst = out + (r / kBlockRows) * block_step + r % kBlockRows;
        for (int64_t f = 0; f < nf; ++f) dst[f * kBlockRows] = x[r * stride + f];
    }
    const int64_t tail = m % kBlockRows;
    if (tail) {
        uint8_t* last = out + (m / kBlockRows) * block_step;
        for (int64_t f = 0; f < nf; ++f)
            for (int64_t i = tail; i < kBlockRows; ++i) last[f * kBlockRows + i] = 0;
    }
}

// Rows [0, m) of x into groups of 8 rows, feature-major inside a group (kernels.hpp), the last
// group's missing rows zeroed.
void transpose8_u8(const uint8_t* x, int64_t stride, int64_t m, int64_t nf, uint8_t* out) {
    int64_t r = 0;
#if defined(__SSE2__)
    for (; r + 8 <= m; r += 8) {
        uint8_t* dst = out + r * nf;  // group r / 8 starts at (r / 8) * nf * 8
        const uint8_t* src = x + r * stride;
        int64_t f = 0;
        for (; f + 8 <= nf; f += 8) {  // features f .. f + 7, 8 bytes each: 64 contiguous bytes
            __m128i c[4];
            transpose8x8(src + f, stride, c);
            for (int q = 0; q < 4; ++q)
                _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + f * 8) + q, c[q]);
        }
        for (; f < nf; ++f)
            for (int i = 0; i < 8; ++i) dst[f * 8 + i] = src[i * stride + f];
    }
#endif
    for (; r < m; ++r)
        for (int64_t f = 0; f < nf; ++f) out[((r / 8) * nf + f) * 8 + r % 8] = x[r * stride + f];
    if (m % 8)
        for (int64_t q = m; q < (m + 7) / 8 * 8; ++q)
            for (int64_t f = 0; f < nf; ++f) out[((q / 8) * nf + f) * 8 + q % 8] = 0;
}

// ============================================================================== binning
// Number of the 16 sorted slots e[0..15] (NaN padding last) with e[k] <= x, in [0, 16].
inline unsigned count_le16(float x, const float* e) {
#if defined(GREENAUTO_LEVEL_AVX512)
    return static_cast<unsigned>(__builtin_popcount(
        _mm512_cmp_ps_mask(_mm512_loadu_ps(e), _mm512_set1_ps(x), _CMP_LE_OQ)));
#elif defined(GREENAUTO_LEVEL_AVX2)
    const __m256 v = _mm256_set1_ps(x);
    const unsigned lo = static_cast<unsigned>(
        _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(e), v, _CMP_LE_OQ)));
    const unsigned hi = static_cast<unsigned>(
        _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(e + 8), v, _CMP_LE_OQ)));
    return static_cast<unsigned>(__builtin_popcount(lo | (hi << 8)));
#elif defined(__SSE2__)
    const __m128 v = _mm_set1_ps(x);
    const __m128i c0 = _mm_castps_si128(_mm_cmple_ps(_mm_loadu_ps(e), v));
    const __m128i c1 = _mm_castps_si128(_mm_cmple_ps(_mm_loadu_ps(e + 4), v));
    const __m128i c2 = _mm_castps_si128(_mm_cmple_ps(_mm_loadu_ps(e + 8), v));
    const __m128i c3 = _mm_castps_si128(_mm_cmple_ps(_mm_loadu_ps(e + 12), v));
    const __m128i packed = _mm_packs_epi16(_mm_packs_epi32(c0, c1), _mm_packs_epi32(c2, c3));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(packed));
    return static_cast<unsigned>(__builtin_ctz(~mask));  // bit 16 of ~mask is always set
#else
    unsigned c = 0;
    for (int k = 0; k < 16; ++k) c += (e[k] <= x) ? 1u : 0u;
    return c;
#endif
}

inline unsigned count_le16(double x, const double* e) {
#if defined(GREENAUTO_LEVEL_AVX512)
    const __m512d v = _mm512_set1_pd(x);
    const unsigned lo = _mm512_cmp_pd_mask(_mm512_loadu_pd(e), v, _CMP_LE_OQ);
    const unsigned hi = _mm512_cmp_pd_mask(_mm512_loadu_pd(e + 8), v, _CMP_LE_OQ);
    return static_cast<unsigned>(__builtin_popcount(lo | (hi << 8)));
#elif defined(GREENAUTO_LEVEL_AVX2)
    const __m256d v = _mm256_set1_pd(x);
    unsigned m = 0;
    for (int q = 0; q < 4; ++q)
        m |= static_cast<unsigned>(_mm256_movemask_pd(
                 _mm256_cmp_pd(_mm256_loadu_pd(e + 4 * q), v, _CMP_LE_OQ)))
             << (4 * q);
    return static_cast<unsigned>(__builtin_popcount(m));
#else
    unsigned c = 0;
    for (int k = 0; k < 16; ++k) c += (e[k] <= x) ? 1u : 0u;
    return c;
#endif
}

template <typename T>
inline void bin_column(const T* table, int two_stage, uint8_t nan_bin, const T* x,
                       int64_t row_stride, int64_t n, uint8_t* out, int64_t out_stride) {
    // the splitters read from the table at every value (an L1 hit; a copy of them on the stack,
    // 16 scalar stores read back by one vector load, stalled on the store forwarding: about
    // 5 ns a value for one row at the AVX-512 level, the whole cost of binning it)
    const T* split = table;
    if (!two_stage) {
        for (int64_t r = 0; r < n; ++r) {
            const T v = x[r * row_stride];
            const unsigned b = count_le16(v, split);
            out[r * out_stride] = (v != v) ? nan_bin : static_cast<uint8_t>(b);
        }
        return;
    }
    const T* blocks = table + 16;
    for (int64_t r = 0; r < n; ++r) {
        const T v = x[r * row_stride];
        const unsigned a = count_le16(v, split) & 15u;
        const unsigned b = count_le16(v, blocks + 16 * a);
        out[r * out_stride] = (v != v) ? nan_bin : static_cast<uint8_t>(16 * a + b);
    }
}

#if defined(GREENAUTO_LEVEL_AVX2)
// AVX2: splitters held in registers, NaN handled without a branch.
template <>
inline void bin_column<float>(const float* table, int two_stage, uint8_t nan_bin,
                              const float* x, int64_t row_stride, int64_t n, uint8_t* out,
                              int64_t out_stride) {
    const __m256 s0 = _mm256_loadu_ps(table), s1 = _mm256_loadu_ps(table + 8);
    const float* blocks = table + 16;
    for (int64_t r = 0; r < n; ++r) {
        const __m256 v = _mm256_set1_ps(x[r * row_stride]);
        unsigned bin = static_cast<unsigned>(_mm_popcnt_u32(
            static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(s0, v, _CMP_LE_OQ))) |
            (static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(s1, v, _CMP_LE_OQ))) << 8)));
        if (two_stage) {
            const float* blk = blocks + 16 * (bin & 15u);
            bin = 16 * (bin & 15u) +
                  static_cast<unsigned>(_mm_popcnt_u32(
                      static_cast<unsigned>(_mm256_movemask_ps(
                          _mm256_cmp_ps(_mm256_loadu_ps(blk), v, _CMP_LE_OQ))) |
                      (static_cast<unsigned>(_mm256_movemask_ps(
                           _mm256_cmp_ps(_mm256_loadu_ps(blk + 8), v, _CMP_LE_OQ)))
                       << 8)));
        }
        const bool nan = _mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) & 1;
        out[r * out_stride] = nan ? nan_bin : static_cast<uint8_t>(bin);
    }
}
#endif

// Every output column over rows [0, n), one column at a time (the per-value search).
template <typename T>
inline void bin_rows_by_value(const BinView& v, const T* X, int64_t n, int64_t row_stride,
                              int64_t col_stride, const int64_t* columns, int64_t n_out,
                              uint8_t* out, int64_t out_stride) {
    for (int64_t i = 0; i < n_out; ++i) {
        const int64_t c = columns[i];
        const T* table;
        if constexpr (sizeof(T) == 4) table = v.edges32 + v.offsets[c];
        else table = v.edges64 + v.offsets[c];
        bin_column<T>(table, v.n_bins[c] > 16, v.n_bins[c], X + c * col_stride, row_stride, n,
                      out + i, out_stride);
    }
}

#if defined(GREENAUTO_LEVEL_AVX512)
// Level l's lookup of the 16 lanes' node indices (level l has 2^l entries at t).
template <int l>
inline __m512 level_lookup(const float* t, __m512i idx) {
    if constexpr (l <= 4) return _mm512_permutexvar_ps(idx, _mm512_loadu_ps(t));
    const __m512 a = _mm512_permutex2var_ps(_mm512_loadu_ps(t), idx, _mm512_loadu_ps(t + 16));
    if constexpr (l == 5) return a;
    const __m512 b = _mm512_permutex2var_ps(_mm512_loadu_ps(t + 32), idx, _mm512_loadu_ps(t + 48));
    const __m512 ab = _mm512_mask_blend_ps(_mm512_test_epi32_mask(idx, _mm512_set1_epi32(32)), a, b);
    if constexpr (l == 6) return ab;
    const __m512 c = _mm512_permutex2var_ps(_mm512_loadu_ps(t + 64), idx, _mm512_loadu_ps(t + 80));
    const __m512 d = _mm512_permutex2var_ps(_mm512_loadu_ps(t + 96), idx, _mm512_loadu_ps(t + 112));
    const __m512 cd = _mm512_mask_blend_ps(_mm512_test_epi32_mask(idx, _mm512_set1_epi32(32)), c, d);
    return _mm512_mask_blend_ps(_mm512_test_epi32_mask(idx, _mm512_set1_epi32(64)), ab, cd);
}

constexpr int64_t level_offset(int l) {
    return l <= 4 ? 16 * l : (l == 5 ? 80 : (l == 6 ? 112 : 176));
}

// Number of the feature's edges <= x in each lane (NaN lanes: anything; fixed by the caller):
// levels l..L-1 of the branch-free binary search from node indices idx.
template <int L, int l = 0>
inline __m512i search16(const float* t, __m512 x, __m512i idx = _mm512_setzero_si512()) {
    if constexpr (l == L) {
        return idx;
    } else {
        const __mmask16 ge =
            _mm512_cmp_ps_mask(level_lookup<l>(t + level_offset(l), idx), x, _CMP_LE_OQ);
        const __m512i twice = _mm512_add_epi32(idx, idx);
        return search16<L, l + 1>(t, x,
                                  _mm512_mask_add_epi32(twice, ge, twice, _mm512_set1_epi32(1)));
    }
}

inline __m512i search16(int levels, const float* t, __m512 x) {
    switch (levels) {
        case 0: return _mm512_setzero_si512();
        case 1: return search16<1>(t, x);
        case 2: return search16<2>(t, x);
        case 3: return search16<3>(t, x);
        case 4: return search16<4>(t, x);
        case 5: return search16<5>(t, x);
        case 6: return search16<6>(t, x);
        case 7: return search16<7>(t, x);
        default: return search16<8>(t, x);
    }
}

// 16 float64 values (h[0]: rows 0-7, h[1]: rows 8-15; `valid` of them) rounded down to
// float32, `exact` false where that changed the value (NaN and invalid lanes: true).
inline __m512 narrow16(const __m512d* h, __mmask16 valid, __mmask16& exact) {
    const __m256 lo = _mm512_cvt_roundpd_ps(h[0], _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    const __m256 hi = _mm512_cvt_roundpd_ps(h[1], _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    // exact where the float32 value equals the float64 one (NaN: handled by the caller)
    const __mmask8 e0 = _mm512_cmp_pd_mask(_mm512_cvtps_pd(lo), h[0], _CMP_EQ_OQ);
    const __mmask8 e1 = _mm512_cmp_pd_mask(_mm512_cvtps_pd(hi), h[1], _CMP_EQ_OQ);
    const __mmask16 nan = static_cast<__mmask16>(
        _mm512_cmp_pd_mask(h[0], h[0], _CMP_UNORD_Q) |
        (_mm512_cmp_pd_mask(h[1], h[1], _CMP_UNORD_Q) << 8));
    exact = static_cast<__mmask16>(e0 | (e1 << 8)) | nan | static_cast<__mmask16>(~valid);
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}

inline __mmask16 first_lanes(int64_t m) {
    return m >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << m) - 1u);
}

// 16 values of a column (float32, or float64 rounded down to float32 with `exact` false where
// that changed the value; the float64 values in h), rows r.. at stride `stride` (gathered), `m`
// of them valid.
template <typename T>
inline __m512 load16(const T* x, int64_t stride, int64_t m, __mmask16& exact, __m512d* h) {
    const __mmask16 valid = first_lanes(m);
    const __m512i lanes = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                                                11, 12, 13, 14, 15),
                                             _mm512_set1_epi32(static_cast<int>(stride)));
    if constexpr (sizeof(T) == 4) {
        (void)h;
        exact = 0xFFFF;
        if (stride == 1) return _mm512_maskz_loadu_ps(valid, x);
        return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid, lanes, x, 4);
    } else {
        for (int k = 0; k < 2; ++k) {
            const __mmask8 vk = static_cast<__mmask8>(valid >> (8 * k));
            h[k] = stride == 1 ? _mm512_maskz_loadu_pd(vk, x + 8 * k)
                               : _mm512_mask_i32gather_pd(_mm512_setzero_pd(), vk,
                                                          k ? _mm512_extracti64x4_epi64(lanes, 1)
                                                            : _mm512_castsi512_si256(lanes),
                                                          x, 8);
        }
        return narrow16(h, valid, exact);
    }
}

// float64 lanes not exactly float32: the float32 search counted a prefix of the edges <= x;
// the next edges are checked in float64 (x: the lanes' values h) until one is > x.
inline __m512i correct16(const double* sorted, const __m512d* h, __mmask16 todo, __m512i count) {
    for (int k = 0; k < 2; ++k) {
        __mmask8 left = static_cast<__mmask8>(todo >> (8 * k));
        if (!left) continue;
        __m256i c = k ? _mm512_extracti64x4_epi64(count, 1) : _mm512_castsi512_si256(count);
        while (left) {  // at most 255 rounds; nearly always one
            const __m512d e = _mm512_mask_i32gather_pd(_mm512_set1_pd(__builtin_inf()), left, c, sorted, 8);
            left = _mm512_mask_cmp_pd_mask(left, e, h[k], _CMP_LE_OQ);
            c = _mm256_mask_add_epi32(c, left, c, _mm256_set1_epi32(1));
        }
        count = k ? _mm512_inserti64x4(count, c, 1) : _mm512_inserti64x4(count, c, 0);
    }
    return count;
}

// 16 x 16 bytes (row i: column i's 16 rows) to 16 rows of 16 columns.
inline void transpose16x16(__m128i* v) {
    __m128i t[16];
    for (int i = 0; i < 8; ++i) {
        t[i] = _mm_unpacklo_epi8(v[2 * i], v[2 * i + 1]);
        t[i + 8] = _mm_unpackhi_epi8(v[2 * i], v[2 * i + 1]);
    }
    for (int i = 0; i < 4; ++i) {
        v[i] = _mm_unpacklo_epi16(t[2 * i], t[2 * i + 1]);
        v[i + 4] = _mm_unpackhi_epi16(t[2 * i], t[2 * i + 1]);
        v[i + 8] = _mm_unpacklo_epi16(t[8 + 2 * i], t[8 + 2 * i + 1]);
        v[i + 12] = _mm_unpackhi_epi16(t[8 + 2 * i], t[8 + 2 * i + 1]);
    }
    for (int i = 0; i < 8; ++i) {
        t[i] = _mm_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
        t[i + 8] = _mm_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
    }
    for (int i = 0; i < 4; ++i) {
        v[4 * i + 0] = _mm_unpacklo_epi64(t[2 * i], t[2 * i + 1]);
        v[4 * i + 1] = _mm_unpackhi_epi64(t[2 * i], t[2 * i + 1]);
        v[4 * i + 2] = _mm_unpacklo_epi64(t[8 + 2 * i], t[8 + 2 * i + 1]);
        v[4 * i + 3] = _mm_unpackhi_epi64(t[8 + 2 * i], t[8 + 2 * i + 1]);
    }
}

// 16 x 16 floats: v[k] holding 16 consecutive features of row k becomes v[j] holding feature j
// of the 16 rows (unpacks within 128-bit lanes, then 128-bit lanes across registers).
inline void transpose16x16_ps(__m512* v) {
    __m512 t[16];
    for (int i = 0; i < 8; ++i) {
        t[2 * i] = _mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]);
    }
    __m512 u[16];  // u[4i + j], 128-bit lane L: feature 4L + j of rows 4i .. 4i + 3
    for (int i = 0; i < 4; ++i) {
        const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        u[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int j = 0; j < 4; ++j) {
        const __m512 a = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
        const __m512 b = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
        const __m512 c = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
        const __m512 d = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
        v[j] = _mm512_shuffle_f32x4(a, c, 0x88);
        v[j + 8] = _mm512_shuffle_f32x4(a, c, 0xDD);
        v[j + 4] = _mm512_shuffle_f32x4(b, d, 0x88);
        v[j + 12] = _mm512_shuffle_f32x4(b, d, 0xDD);
    }
}

// 8 x 8 doubles: v[k] holding 8 consecutive features of row k becomes v[j] holding feature j
// of the 8 rows.
inline void transpose8x8_pd(__m512d* v) {
    __m512d t[8];  // t[2i + h], 128-bit lane L: feature 2L + h of rows 2i, 2i + 1
    for (int i = 0; i < 4; ++i) {
        t[2 * i] = _mm512_unpacklo_pd(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_pd(v[2 * i], v[2 * i + 1]);
    }
    for (int h = 0; h < 2; ++h) {
        const __m512d u0 = _mm512_shuffle_f64x2(t[h], t[2 + h], 0x88);      // features h, 4 + h
        const __m512d u1 = _mm512_shuffle_f64x2(t[h], t[2 + h], 0xDD);      // 2 + h, 6 + h
        const __m512d u2 = _mm512_shuffle_f64x2(t[4 + h], t[6 + h], 0x88);  // rows 4-7
        const __m512d u3 = _mm512_shuffle_f64x2(t[4 + h], t[6 + h], 0xDD);
        v[h] = _mm512_shuffle_f64x2(u0, u2, 0x88);
        v[4 + h] = _mm512_shuffle_f64x2(u0, u2, 0xDD);
        v[2 + h] = _mm512_shuffle_f64x2(u1, u3, 0x88);
        v[6 + h] = _mm512_shuffle_f64x2(u1, u3, 0xDD);
    }
}

// Row-major rows without gathers: the 16 rows' features in chunks (16 float32, 8 float64; up
// to the last column read, `width` of them in all) loaded as rows and transposed, kept while
// the next column read lies in the same chunk (columns are usually ascending). column(c) gives
// column c's 16 values as load16 does.
template <typename T>
class RowBlock16;

template <>
class RowBlock16<float> {
   public:
    RowBlock16(const float* x, int64_t row_stride, int64_t m, int64_t width)
        : x_(x), stride_(row_stride), m_(m), width_(width) {}
    __m512 column(int64_t c, __mmask16& exact, __m512d*) {
        const int64_t k = c >> 4;
        if (k != chunk_) {
            const __mmask16 lanes = first_lanes(width_ - 16 * k);
            for (int64_t r = 0; r < 16; ++r)
                v_[r] = r < m_ ? _mm512_maskz_loadu_ps(lanes, x_ + r * stride_ + 16 * k)
                               : _mm512_setzero_ps();
            transpose16x16_ps(v_);
            chunk_ = k;
        }
        exact = 0xFFFF;
        return v_[c & 15];
    }

   private:
    const float* x_;
    int64_t stride_, m_, width_, chunk_ = -1;
    __m512 v_[16];
};

template <>
class RowBlock16<double> {
   public:
    RowBlock16(const double* x, int64_t row_stride, int64_t m, int64_t width)
        : x_(x), stride_(row_stride), m_(m), width_(width) {}
    __m512 column(int64_t c, __mmask16& exact, __m512d* h) {
        const int64_t k = c >> 3;
        if (k != chunk_) {
            const __mmask8 lanes = static_cast<__mmask8>(first_lanes(width_ - 8 * k));
            for (int half = 0; half < 2; ++half) {
                __m512d* v = half ? hi_ : lo_;
                for (int64_t r = 0; r < 8; ++r) {
                    const int64_t row = 8 * half + r;
                    v[r] = row < m_ ? _mm512_maskz_loadu_pd(lanes, x_ + row * stride_ + 8 * k)
                                    : _mm512_setzero_pd();
                }
                transpose8x8_pd(v);
            }
            chunk_ = k;
        }
        h[0] = lo_[c & 7];
        h[1] = hi_[c & 7];
        return narrow16(h, first_lanes(m_), exact);
    }

   private:
    const double* x_;
    int64_t stride_, m_, width_, chunk_ = -1;
    __m512d lo_[8], hi_[8];
};

// 16 rows at a time, 16 output columns at a time: a binary search per column vectorised over
// the rows (level tables in registers), bytes transposed back to rows.
constexpr int64_t kFewRows = 4;
template <typename T>
void bin_rows(const BinView& v, const T* X, int64_t n, int64_t row_stride, int64_t col_stride,
              const int64_t* columns, int64_t n_out, uint8_t* out, int64_t out_stride) {
    // gather indices are int32; a few rows: the per-value search (no 16-row vectors to fill)
    if (row_stride > (int64_t{1} << 26) || row_stride < 1 || n < kFewRows)
        return bin_rows_by_value(v, X, n, row_stride, col_stride, columns, n_out, out,
                                 out_stride);
    // row-major input where gathers are slow: rows loaded and transposed (RowBlock16)
    const bool by_rows = col_stride == 1 && row_stride > 1 && !fast_gathers();
    int64_t width = 0;  // by_rows: columns [0, width) are read
    for (int64_t i = 0; by_rows && i < n_out; ++i) width = max64(width, columns[i] + 1);
    // Column-major input: tiles of 256 rows, so that a group of 16 columns is read as 16
    // streams down its columns (16 rows of every column at a time would be as many streams as
    // columns, more than the prefetchers follow); row-major input: 16 rows at a time.
    const int64_t tile = row_stride == 1 ? 256 : 16;
    for (int64_t t0 = 0; t0 < n; t0 += tile) {
        const int64_t t1 = min64(n, t0 + tile);
        RowBlock16<T> block(X + t0 * row_stride, row_stride, min64(16, n - t0),
                            width);  // by_rows: the tile's one block of 16
        for (int64_t i0 = 0; i0 < n_out; i0 += 16) {
            for (int64_t r = t0; r < t1; r += 16) {
                const int64_t m = min64(16, n - r);
                const int64_t w = min64(16, n_out - i0);
                __m128i col[16];
                for (int64_t i = 0; i < 16; ++i) {
                    if (i >= w) {
                        col[i] = _mm_setzero_si128();
                        continue;
                    }
                    const int64_t c = columns[i0 + i];
                    const T* x = X + c * col_stride + r * row_stride;
                    __mmask16 exact;
                    __m512d h[2];  // float64 input: the values
                    const __m512 xf = by_rows ? block.column(c, exact, h)
                                              : load16(x, row_stride, m, exact, h);
                    __m512i bin = search16(v.levels[c], v.level32 + v.level_off[c], xf);
                    if constexpr (sizeof(T) == 8)
                        if (static_cast<__mmask16>(~exact) && !v.exact32[c])
                            bin = correct16(v.sorted64 + 256 * c, h,
                                            static_cast<__mmask16>(~exact), bin);
                    const __mmask16 nan = _mm512_cmp_ps_mask(xf, xf, _CMP_UNORD_Q);
                    bin = _mm512_mask_mov_epi32(bin, nan, _mm512_set1_epi32(v.n_bins[c]));
                    col[i] = _mm512_cvtepi32_epi8(bin);
                }
                transpose16x16(col);
                const __mmask16 keep = static_cast<__mmask16>((1u << w) - 1u);
                if (w == 16) {  // plain stores (masked ones are slow on some CPUs: AMD Zen 4)
                    for (int64_t k = 0; k < m; ++k)
                        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + (r + k) * out_stride + i0),
                                         col[k]);
                } else {
                    for (int64_t k = 0; k < m; ++k)
                        _mm_mask_storeu_epi8(out + (r + k) * out_stride + i0, keep, col[k]);
                }
            }
        }
    }
}

void bin_f32(const BinView& v, const float* X, int64_t n, int64_t row_stride, int64_t col_stride,
             const int64_t* columns, int64_t n_out, uint8_t* out, int64_t out_stride) {
    bin_rows<float>(v, X, n, row_stride, col_stride, columns, n_out, out, out_stride);
}
void bin_f64(const BinView& v, const double* X, int64_t n, int64_t row_stride,
             int64_t col_stride, const int64_t* columns, int64_t n_out, uint8_t* out,
             int64_t out_stride) {
    bin_rows<double>(v, X, n, row_stride, col_stride, columns, n_out, out, out_stride);
}
#else
void bin_f32(const BinView& v, const float* X, int64_t n, int64_t row_stride, int64_t col_stride,
             const int64_t* columns, int64_t n_out, uint8_t* out, int64_t out_stride) {
    bin_rows_by_value(v, X, n, row_stride, col_stride, columns, n_out, out, out_stride);
}
void bin_f64(const BinView& v, const double* X, int64_t n, int64_t row_stride,
             int64_t col_stride, const int64_t* columns, int64_t n_out, uint8_t* out,
             int64_t out_stride) {
    bin_rows_by_value(v, X, n, row_stride, col_stride, columns, n_out, out, out_stride);
}
#endif

// ================================================================================== KNN
// scikit-learn's sklearn/utils/_heap.pyx heap_push, for a full max-heap of size k, on integer
// distances (exact: scikit-learn's float64 ones are the same integers, compared the same way).
// The child is picked without a branch: the larger one, the left one on a tie, the left one
// when there is no right one.
inline void heap_push(uint32_t* values, int32_t* indices, int64_t size, uint32_t val,
                      int32_t idx) {
    if (val >= values[0]) return;
    int64_t cur = 0;
    for (int64_t l = 1; l < size; l = 2 * cur + 1) {
        const int64_t rr = l + 1;
        const int64_t swap = (rr < size && values[rr] > values[l]) ? rr : l;
        if (!(val < values[swap])) break;
        values[cur] = values[swap];
        indices[cur] = indices[swap];
        cur = swap;
    }
    values[cur] = val;
    indices[cur] = idx;
}

// Bit i set for the rows of chunk c that exist (the last chunk may be partial).
inline uint32_t knn_valid(const KnnView& v, int64_t c) {
    const int64_t rows = min64(kKnnChunk, v.n_train - c * kKnnChunk);
    return rows >= 32 ? 0xFFFFFFFFu : ((1u << rows) - 1u);
}

// Where a scan sends the rows under a query's bound (every scan below is written once for both):
// top(q): the bound, a row at or past it cannot count; offer(c, q, m, dist_of): the rows of
// mask m of chunk c, in index order, each with the distance dist_of(i, top) of row i of the
// chunk (anything >= top: not counted).
// HeapSink: scikit-learn's heap of each query (knn_search).
struct HeapSink {
    static constexpr bool kWarm = false;  // takes no bound but its own top
    const KnnView& v;
    uint32_t* dist;
    int32_t* index;
    uint32_t top(int64_t q) const { return dist[q * v.k]; }
    template <class DistOf>
    void offer(int64_t c, int64_t q, uint32_t m, DistOf&& dist_of) {
        uint32_t* dq = dist + q * v.k;
        for (; m; m &= m - 1) {
            const int i = __builtin_ctz(m);
            heap_push(dq, index + q * v.k, v.k, dist_of(i, dq[0]),
                      static_cast<int32_t>(c * kKnnChunk + i));
        }
    }
};

// One query's candidates of knn_select: n packed rows (distance << 32 | index) at buf, all
// under top; bound = top - 1 when top < 2^32 - 1 (no bound yet: every distance is below it),
// and tie_n rows at exactly tie_value taken out of buf (labels: tie_label, and whether any
// other; the first k of them at ties). With k <= kKnnSortedK, kth holds the k smallest
// distances offered so far, sorted (2^32 - 1 past those offered): top = kth[k - 1] + 1 after
// every row, as the heap's top; otherwise top follows the compactions.
// KthSorted: those k smallest in a register where the level has one wide enough (a row enters
// as min(kth, max(kth shifted up a lane, d)), lane 0 min(kth[0], d)), else a plain loop.
#if defined(GREENAUTO_LEVEL_AVX512)
inline constexpr int64_t kKnnSortedK = 16;
struct KthSorted {
    __m512i v, pick;
    KthSorted(const uint32_t* p, int64_t k)
        : v(_mm512_loadu_si512(p)), pick(_mm512_set1_epi32(static_cast<int32_t>(k - 1))) {}
    void store(uint32_t* p) const { _mm512_storeu_si512(p, v); }
    uint32_t insert(uint32_t d) {  // returns the k-th smallest
        const __m512i dv = _mm512_set1_epi32(static_cast<int32_t>(d));
        v = _mm512_min_epu32(v, _mm512_max_epu32(_mm512_alignr_epi32(v, dv, 15), dv));
        return static_cast<uint32_t>(_mm512_cvtsi512_si32(_mm512_permutexvar_epi32(pick, v)));
    }
};
#elif defined(GREENAUTO_LEVEL_AVX2)
inline constexpr int64_t kKnnSortedK = 8;
struct KthSorted {
    __m256i v, pick;
    KthSorted(const uint32_t* p, int64_t k)
        : v(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))),
          pick(_mm256_set1_epi32(static_cast<int32_t>(k - 1))) {}
    void store(uint32_t* p) const { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
    uint32_t insert(uint32_t d) {
        const __m256i dv = _mm256_set1_epi32(static_cast<int32_t>(d));
        const __m256i up = _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6));
        v = _mm256_min_epu32(v, _mm256_max_epu32(_mm256_blend_epi32(up, dv, 1), dv));
        return static_cast<uint32_t>(_mm256_cvtsi256_si32(_mm256_permutevar8x32_epi32(v, pick)));
    }
};
#else
inline constexpr int64_t kKnnSortedK = 16;
struct KthSorted {
    uint32_t* v;
    int64_t k;
    KthSorted(uint32_t* p, int64_t k_) : v(p), k(k_) {}
    void store(uint32_t*) const {}
    uint32_t insert(uint32_t d) {
        for (int64_t j = k - 1; j > 0; --j) v[j] = std::min(v[j], std::max(v[j - 1], d));
        v[0] = std::min(v[0], d);
        return v[k - 1];
    }
};
#endif
struct KnnCands {
    uint64_t* buf;
    uint64_t* ties;
    uint32_t* kth;  // 16 values
    bool sorted;    // k <= kKnnSortedK: kth is kept
    bool compacted; // buf is no longer every row offered under its top then, in index order
    int64_t n;
    uint32_t top;
    int64_t tie_n;
    uint32_t tie_value;
    int32_t tie_label;
    bool mixed;
};

// Rows past the bound dropped, those at it moved to the tie summary (a lower bound drops the
// old one: its rows are past it); without kth, the bound first lowered to the k-th smallest
// distance of buf when it holds k rows or more.
inline void knn_compact(const KnnView& v, KnnCands& s) {
    if (!s.sorted && s.n >= v.k) {
        std::nth_element(s.buf, s.buf + v.k - 1, s.buf + s.n);
        const uint32_t kth = static_cast<uint32_t>(s.buf[v.k - 1] >> 32);
        if (kth + 1 < s.top) s.top = kth + 1;
    }
    if (s.top == UINT32_MAX) return;  // fewer than k rows so far: all kept
    const uint32_t bound = s.top - 1;
    if (s.tie_value != bound) {
        s.tie_n = 0;
        s.tie_value = bound;
        s.mixed = false;
    }
    int64_t kept = 0;
    for (int64_t j = 0; j < s.n; ++j) {
        const uint64_t e = s.buf[j];
        const uint32_t d = static_cast<uint32_t>(e >> 32);
        s.buf[kept] = e;
        kept += d < bound;
        if (d != bound) continue;
        const int32_t label = v.labels[static_cast<uint32_t>(e)];
        if (s.tie_n == 0) s.tie_label = label;
        if (s.tie_n < v.k) s.ties[s.tie_n] = e;
        s.mixed = s.mixed || label != s.tie_label;
        ++s.tie_n;
    }
    s.n = kept;
}

// CollectSink: every row under the bound appended (no branch), and entered into kth; buf
// compacted once it holds kKnnCandSlack rows past k (room stays for a whole chunk).
struct CollectSink {
    static constexpr bool kWarm = true;
    const KnnView& v;
    KnnCands* s;
    uint32_t top(int64_t q) const { return s[q].top; }
    // A bound found before the rows are offered (knn_scan_folded): the log no longer holds
    // every row the heap would have taken.
    void lower_top(int64_t q, uint32_t top) {
        s[q].top = std::min(s[q].top, top);
        s[q].compacted = true;
    }
    template <bool Sorted, class DistOf>
    static void rows(KnnCands& t, int64_t c, uint32_t m, DistOf& dist_of, int64_t k) {
        uint32_t top = t.top;
        uint64_t* buf = t.buf;
        int64_t n = t.n;
        [[maybe_unused]] KthSorted kth(t.kth, Sorted ? k : 1);
        for (; m; m &= m - 1) {
            const int i = __builtin_ctz(m);
            const uint32_t d = dist_of(i, top);
            buf[n] = uint64_t{d} << 32 | static_cast<uint32_t>(c * kKnnChunk + i);
            n += d < top;
            if constexpr (Sorted) {  // d >= top: no change
                const uint32_t kk = kth.insert(d);
                top = std::min(top, kk + (kk != UINT32_MAX));  // a bound given first stays
            }
        }
        if constexpr (Sorted) kth.store(t.kth);
        t.n = n;
        t.top = top;
    }
    template <class DistOf>
    void offer(int64_t c, int64_t q, uint32_t m, DistOf&& dist_of) {
        KnnCands& t = s[q];
        if (t.sorted) rows<true>(t, c, m, dist_of, v.k);
        else rows<false>(t, c, m, dist_of, v.k);
        if (t.n >= v.k + kKnnCandSlack) {
            knn_compact(v, t);
            t.compacted = true;
        }
    }
};

// Distance over one group of 8 features of one row.
inline uint32_t group_dist(const uint8_t* y, const uint8_t* q, int p) {
#if defined(__SSE2__)
    const __m128i a = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(y));
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q));
    if (p == 1) return static_cast<uint32_t>(_mm_cvtsi128_si32(_mm_sad_epu8(a, b)));
    const __m128i z = _mm_setzero_si128();
    const __m128i d = _mm_sub_epi16(_mm_unpacklo_epi8(a, z), _mm_unpacklo_epi8(b, z));
    __m128i s = _mm_madd_epi16(d, d);  // 4 x 32-bit
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return static_cast<uint32_t>(_mm_cvtsi128_si32(s));
#else
    uint32_t sum = 0;
    for (int b = 0; b < 8; ++b) {
        const int32_t diff = static_cast<int32_t>(y[b]) - q[b];
        sum += static_cast<uint32_t>(p == 1 ? (diff < 0 ? -diff : diff) : diff * diff);
    }
    return sum;
#endif
}

// Stages of 16 features on the dot-product layout; past them (more than 256 features), plain.
constexpr int64_t kKnnMaxDotStages = 16;

// Integer vectors of the level: the KNN kernels below are written once for both widths
// (GA_MM(op) names the level's intrinsic: _mm512_op or _mm256_op).
#if defined(GREENAUTO_LEVEL_AVX512) || defined(GREENAUTO_LEVEL_AVX2)
#if defined(GREENAUTO_LEVEL_AVX512)
#define GA_MM(op) _mm512_##op
#define GA_SI(op) _mm512_##op##_si512
using IVecReg = __m512i;
#else
#define GA_MM(op) _mm256_##op
#define GA_SI(op) _mm256_##op##_si256
using IVecReg = __m256i;
#endif
struct IVec {
    using V = IVecReg;
    static constexpr int kBytes = sizeof(V);
    static V load(const void* p) { return GA_SI(loadu)(static_cast<const V*>(p)); }
    static void store(void* p, V v) { GA_SI(storeu)(static_cast<V*>(p), v); }
    static V zero() { return GA_SI(setzero)(); }
    static V set32(int32_t x) { return GA_MM(set1_epi32)(x); }
    static V add32(V a, V b) { return GA_MM(add_epi32)(a, b); }
    static V add64(V a, V b) { return GA_MM(add_epi64)(a, b); }
    static V sub32(V a, V b) { return GA_MM(sub_epi32)(a, b); }
    static V sad(V a, V b) { return GA_MM(sad_epu8)(a, b); }
    static V absdiff8(V a, V b) { return GA_MM(sub_epi8)(GA_MM(max_epu8)(a, b), GA_MM(min_epu8)(a, b)); }
    static V lo8(V a) { return GA_MM(unpacklo_epi8)(a, zero()); }
    static V hi8(V a) { return GA_MM(unpackhi_epi8)(a, zero()); }
    static V madd16(V a, V b) { return GA_MM(madd_epi16)(a, b); }
    static V maddubs(V a, V b) { return GA_MM(maddubs_epi16)(a, b); }
    static V ones16() { return GA_MM(set1_epi16)(1); }
    static V lo64(V a, V b) { return GA_MM(unpacklo_epi64)(a, b); }
    static V hi64(V a, V b) { return GA_MM(unpackhi_epi64)(a, b); }
    static V high32_of_64(V a) { return GA_MM(srli_epi64)(a, 32); }
    static V sub8(V a, V b) { return GA_MM(sub_epi8)(a, b); }
    static V abs8(V a) { return GA_MM(abs_epi8)(a); }
#if defined(GREENAUTO_LEVEL_AVX512)  // masked: gcc 12 warns of the plain one's undefined source
    static V max32(V a, V b) { return _mm512_mask_max_epi32(a, 0xFFFF, a, b); }
#else
    static V max32(V a, V b) { return _mm256_max_epi32(a, b); }
#endif
#if defined(GREENAUTO_LEVEL_AVX512)
    static V set64(int64_t x) { return _mm512_set1_epi64(x); }
    static V low32_of_64(V a) { return _mm512_and_si512(a, set64(0xFFFFFFFFll)); }
    // bit i set where lane i of a < b (signed 32-bit; unsigned 64-bit lanes, all < 2^63)
    static uint32_t lt32(V a, V b) { return _mm512_cmplt_epi32_mask(a, b); }
    static uint32_t lt64(V a, V b) { return _mm512_cmplt_epu64_mask(a, b); }
    // the 64-bit lanes (values < 2^32) narrowed to 32 bits and stored
    static void store64as32(uint32_t* p, V a) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi64_epi32(a));
    }
    static uint32_t hsum32(V a) { return static_cast<uint32_t>(_mm512_reduce_add_epi32(a)); }
#else
    static V set64(int64_t x) { return _mm256_set1_epi64x(x); }
    static V low32_of_64(V a) { return _mm256_and_si256(a, set64(0xFFFFFFFFll)); }
    static uint32_t lt32(V a, V b) {
        return static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(b, a))));
    }
    static uint32_t lt64(V a, V b) {  // signed compare: every sum stays far below 2^63
        return static_cast<uint32_t>(_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(b, a))));
    }
    static uint32_t hsum32(V a) {
        __m128i x = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
        x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4E));
        x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xB1));
        return static_cast<uint32_t>(_mm_cvtsi128_si32(x));
    }
    static void store64as32(uint32_t* p, V a) {
        const __m256i pick = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                         _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(a, pick)));
    }
#endif
};
#undef GA_MM
#undef GA_SI
#define GREENAUTO_HAVE_IVEC 1
#endif

// Partial distances over the first `First` groups of 8 bytes of the 32 rows of chunk c to the
// kKnnQueries queries (one row per 64-bit lane): bit i of below[q] set when that of row i is
// under top[q], and then (only then) part[q * kKnnChunk + i] the distances to query q.
// Mode 0: L1 (byte SAD); 1: L2 (absolute differences widened to 16 bits and squared with a
// multiply-add: two 32-bit halves per 64-bit lane, folded at the end).
#if defined(GREENAUTO_HAVE_IVEC)
using KnnQuery = IVec::V[kKnnFirstGroups];
inline void knn_broadcast(const uint8_t* queries, int64_t qstep, int64_t first, KnnQuery* qb) {
    for (int q = 0; q < kKnnQueries; ++q)
        for (int64_t g = 0; g < kKnnFirstGroups; ++g) {
            uint64_t qg = 0;
            if (g < first) std::memcpy(&qg, queries + q * qstep + 8 * g, 8);
            qb[q][g] = IVec::set64(static_cast<int64_t>(qg));
        }
}

template <int Mode>
inline IVec::V knn_part(IVec::V t, IVec::V qb) {
    using W = IVec;
    if constexpr (Mode == 0) return W::sad(t, qb);
    const W::V a = W::absdiff8(t, qb);
    const W::V sl = W::madd16(W::lo8(a), W::lo8(a)), sh = W::madd16(W::hi8(a), W::hi8(a));
    return W::add32(W::lo64(sl, sh), W::hi64(sl, sh));  // per 64-bit lane: two halves
}

template <int Mode, int First>
inline void knn_chunk(const KnnView& v, int64_t c, const KnnQuery* qb, const uint64_t* top,
                      uint32_t* part, uint32_t* below) {
    using W = IVec;
    constexpr int kRegs = kKnnChunk * 8 / W::kBytes;  // registers per group of the chunk
    constexpr int kLanes = W::kBytes / 8;             // rows per register
    const int64_t gstep = v.n_chunks * kKnnChunk * 8;
    for (int q = 0; q < kKnnQueries; ++q) {
        W::V acc[kRegs];
        for (int j = 0; j < kRegs; ++j) acc[j] = W::zero();
        for (int g = 0; g < First; ++g) {
            const uint8_t* y = v.train + g * gstep + c * kKnnChunk * 8;
            for (int j = 0; j < kRegs; ++j) {
                const W::V d = knn_part<Mode>(W::load(y + W::kBytes * j), qb[q][g]);
                acc[j] = Mode == 0 ? W::add64(acc[j], d) : W::add32(acc[j], d);
            }
        }
        const W::V tq = W::set64(static_cast<int64_t>(top[q]));
        uint32_t bits = 0;
        for (int j = 0; j < kRegs; ++j) {
            if constexpr (Mode != 0) acc[j] = W::add64(W::low32_of_64(acc[j]), W::high32_of_64(acc[j]));
            bits |= W::lt64(acc[j], tq) << (kLanes * j);
        }
        below[q] = bits;
        if (bits)
            for (int j = 0; j < kRegs; ++j) W::store64as32(part + q * kKnnChunk + kLanes * j, acc[j]);
    }
}

#else
struct KnnQuery {
    const uint8_t* bytes;
};
inline void knn_broadcast(const uint8_t* queries, int64_t qstep, int64_t, KnnQuery* qb) {
    for (int q = 0; q < kKnnQueries; ++q) qb[q].bytes = queries + q * qstep;
}

template <int Mode, int First>
inline void knn_chunk(const KnnView& v, int64_t c, const KnnQuery* qb, const uint64_t* top,
                      uint32_t* part, uint32_t* below) {
    const int64_t gstep = v.n_chunks * kKnnChunk * 8;
    for (int q = 0; q < kKnnQueries; ++q) {
        uint32_t bits = 0;
        for (int i = 0; i < kKnnChunk; ++i) {
            uint32_t sum = 0;
            for (int g = 0; g < First; ++g)
                sum += group_dist(v.train + g * gstep + (c * kKnnChunk + i) * 8,
                                  qb[q].bytes + 8 * g, Mode == 0 ? 1 : 2);
            part[q * kKnnChunk + i] = sum;
            bits |= static_cast<uint32_t>(sum < top[q]) << i;
        }
        below[q] = bits;
    }
}
#endif

// Chunk by chunk in index order: each query's rows whose partial distance is under its heap top
// are completed (stopping once they reach it) and offered to its heap.
template <int Mode, int First, class Sink>
void knn_scan(const KnnView& v, const uint8_t* queries, int64_t nq, Sink& sink) {
    const int64_t gstep = v.n_chunks * kKnnChunk * 8;
    const int64_t qstep = v.groups * 8;
    const int p = Mode == 0 ? 1 : 2;
    alignas(64) uint32_t part[kKnnQueries * kKnnChunk];
    uint64_t top[kKnnQueries];
    uint32_t below[kKnnQueries];
    KnnQuery qb[kKnnQueries];
    knn_broadcast(queries, qstep, First, qb);
    for (int64_t c = 0; c < v.n_chunks; ++c) {
        for (int64_t q = 0; q < kKnnQueries; ++q) top[q] = sink.top(q < nq ? q : 0);
        knn_chunk<Mode, First>(v, c, qb, top, part, below);
        const uint32_t valid = knn_valid(v, c);
        for (int64_t q = 0; q < nq; ++q) {
            const uint8_t* query = queries + q * qstep;
            const uint8_t* rows = v.train + c * kKnnChunk * 8;
            sink.offer(c, q, below[q] & valid, [&](int i, uint32_t t) {
                uint32_t d = part[q * kKnnChunk + i];  // completed while under the top
                for (int64_t g = First; g < v.groups && d < t; ++g)
                    d += group_dist(rows + g * gstep + i * 8, query + 8 * g, p);
                return d;
            });
        }
    }
}

// ------------------------------------------------------------ the dot-product layout (B = 4)
// Squared distance over one group of 4 features.
inline uint32_t group_dist4(const uint8_t* y, const uint8_t* q) {
    uint32_t sum = 0;
    for (int b = 0; b < 4; ++b) {
        const int32_t d = static_cast<int32_t>(y[b]) - q[b];
        sum += static_cast<uint32_t>(d * d);
    }
    return sum;
}

// Squared distances over features [16 s, 16 s + 16) (stage s: groups 4 s .. 4 s + 3 of 4 bytes)
// of the chunk's 32 rows to every query slot, added to part; bit i of below[q] kept only while
// part < top[q]. Without SIMD: queries with a code >= 128, and the portable level.
inline void dot_stage_plain(const KnnView& v, int64_t c, int64_t s, const uint8_t* queries,
                            int64_t qstep, const uint64_t* top, uint32_t* part,
                            uint32_t* below) {
    const int64_t gstep = v.n_chunks * kKnnChunk * 4;
    const int64_t g1 = min64(v.groups, 4 * s + 4);
    for (int q = 0; q < kKnnQueries; ++q) {
        uint32_t bits = 0;
        for (int i = 0; i < kKnnChunk; ++i) {
            uint32_t sum = 0;
            for (int64_t g = 4 * s; g < g1; ++g)
                sum += group_dist4(v.train + g * gstep + (c * kKnnChunk + i) * 4,
                                   queries + q * qstep + 4 * g);
            part[q * kKnnChunk + i] = (s ? part[q * kKnnChunk + i] : 0) + sum;
            bits |= static_cast<uint32_t>(part[q * kKnnChunk + i] < top[q]) << i;
        }
        below[q] = s ? below[q] & bits : bits;
    }
}

// The same with |q - y|^2 = |q|^2 + |y|^2 - 2 q.y (squared norms of the stage precomputed),
// every row in a 32-bit lane, the kKnnQueries queries interleaved (independent sums). Without
// VNNI: one unsigned (training) x signed (query) byte multiply-add per feature, then 16-bit
// pairs summed. With VNNI (vpdpbusd: unsigned x signed bytes summed in 32 bits, no
// saturation): the doubled query (2 q <= 254, unsigned) times the training codes (< 128, read
// as signed), added in one instruction; sums of the same integers either way.
#if defined(GREENAUTO_HAVE_IVEC)
using DotQuery = IVec::V[4];
// acc + sum over each 4 bytes of u (unsigned) x s (signed), in 32 bits. Only called when the
// CPU has VNNI (AVX-512 VNNI; AVX-VNNI at the AVX2 level), written in assembly so that the
// level's other code keeps its flags.
inline IVec::V dpbusd(IVec::V acc, IVec::V u, IVec::V s) {
#if defined(GREENAUTO_LEVEL_AVX512)
    asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "vm"(s));
#else
    asm("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(u), "xm"(s));
#endif
    return acc;
}
// Folded: with yy the stage's squared training norms (v.yy holds -yy) and qq the query's, the
// distance over the stages so far is Q - part, part = the sum over them of -yy + 2 q.y (VNNI:
// added to -yy in place) and Q = the sum of their qq; bit i of below[q] kept while it is under
// top[q], i.e. part > Q - top[q] = thr[q] (the comparison of the folded-in query norm, one per
// query and chunk instead of an add per register). part is stored for a later stage, or when
// a bit of the last one is set (those rows go to the heap).
// NQ queries from the first of qb, thr, below and part (kKnnChunk values each): all of them
// on the first stage, then each query alone while some row of its chunk is still under its top.
// NG: the stage's groups of 4 features when known at compile time (the first stage), else 0.
template <bool Vnni, int NQ, int NG = 0>
inline void dot_stage(const KnnView& v, int64_t c, int64_t s, bool last, const DotQuery* qb,
                      const int32_t* thr, uint32_t* part, uint32_t* below) {
    using W = IVec;
    constexpr int kLanes = W::kBytes / 4;      // rows per register
    constexpr int kRegs = kKnnChunk / kLanes;  // registers per group of the chunk
    const int64_t gstep = v.n_chunks * kKnnChunk * 4;
    const int64_t rows = v.n_chunks * kKnnChunk;
    const int64_t g0 = 4 * s, n_g = NG ? NG : min64(v.groups, g0 + 4) - g0;
    W::V start[NQ][kRegs], acc[NQ][kRegs];
    for (int h = 0; h < kRegs; ++h) {
        const W::V nyy = W::load(v.yy + s * rows + c * kKnnChunk + kLanes * h);
        for (int q = 0; q < NQ; ++q) {
            start[q][h] = s ? W::add32(nyy, W::load(part + q * kKnnChunk + kLanes * h)) : nyy;
            acc[q][h] = Vnni ? start[q][h] : W::zero();
        }
    }
    for (int64_t g = 0; g < n_g; ++g)
        for (int h = 0; h < kRegs; ++h) {
            const W::V t = W::load(v.train + (g0 + g) * gstep + (c * kKnnChunk + kLanes * h) * 4);
            for (int q = 0; q < NQ; ++q) {
                if constexpr (Vnni) acc[q][h] = dpbusd(acc[q][h], qb[q][g], t);
                else acc[q][h] = W::add32(acc[q][h], W::madd16(W::maddubs(t, qb[q][g]), W::ones16()));
            }
        }
    for (int q = 0; q < NQ; ++q) {
        const W::V tq = W::set32(thr[q]);
        uint32_t bits = 0;
        for (int h = 0; h < kRegs; ++h) {
            if constexpr (!Vnni) acc[q][h] = W::add32(start[q][h], W::add32(acc[q][h], acc[q][h]));
            bits |= W::lt32(tq, acc[q][h]) << (kLanes * h);
        }
        below[q] = s ? below[q] & bits : bits;
        if (!last || below[q])
            for (int h = 0; h < kRegs; ++h) W::store(part + q * kKnnChunk + kLanes * h, acc[q][h]);
    }
}
// Query bytes of stage s broadcast per group of 4, doubled for VNNI (codes < 128: no overflow).
inline void dot_broadcast(const uint8_t* queries, int64_t qstep, int64_t s, int64_t groups,
                          bool doubled, DotQuery* qb) {
    for (int q = 0; q < kKnnQueries; ++q)
        for (int64_t g = 0; g < 4; ++g) {
            uint32_t w = 0;
            if (4 * s + g < groups) std::memcpy(&w, queries + q * qstep + 4 * (4 * s + g), 4);
            qb[q][g] = IVec::set32(static_cast<int32_t>(doubled ? w + w : w));
        }
}
// The broadcast query bytes and Q (the queries' squared norms over stages 0 .. s) of the first
// `stages` stages.
inline void knn_dot_queries(const uint8_t* queries, int64_t qstep, int64_t stages,
                            int64_t groups, bool doubled, DotQuery (*qb)[kKnnQueries],
                            int64_t (*qq)[kKnnQueries]) {
    for (int64_t s = 0; s < stages; ++s) {
        dot_broadcast(queries, qstep, s, groups, doubled, qb[s]);
        for (int64_t q = 0; q < kKnnQueries; ++q) {
            qq[s][q] = s ? qq[s - 1][q] : 0;
            for (int64_t j = 16 * s; j < min64(16 * s + 16, qstep); ++j)
                qq[s][q] += int32_t{queries[q * qstep + j]} * queries[q * qstep + j];
        }
    }
}
// Q - top, the folded threshold (clamped: every part is above INT32_MIN).
inline int32_t knn_threshold(int64_t qq, uint64_t top) {
    const int64_t t = qq - static_cast<int64_t>(top);
    return static_cast<int32_t>(t < INT32_MIN ? INT32_MIN : t);
}
// Whether the CPU has the VNNI instruction of this level, unless GREENAUTO_KNN_VNNI=0 (read
// once: lets the tests run the other path on a CPU that has it).
inline bool use_vnni() {
    static const bool yes = [] {
        const char* env = std::getenv("GREENAUTO_KNN_VNNI");
        if (env != nullptr && env[0] == '0' && env[1] == '\0') return false;
        __builtin_cpu_init();
#if defined(GREENAUTO_LEVEL_AVX512)
        return __builtin_cpu_supports("avx512vnni") != 0;
#else
        return __builtin_cpu_supports("avxvnni") != 0;
#endif
    }();
    return yes;
}
#define GREENAUTO_HAVE_DOT 1
#endif

// Chunk by chunk in index order, 16 features at a time while any row of the chunk is still
// under its query's heap top (partial distances only grow), then the rows still under it are
// offered to the heap in order with their full distance. The searches knn_scan_folded does not
// take: a query code >= 128 or no SIMD (every stage plain: part holds the distance itself), or
// more than 256 features (dot-product stages, then plain ones: part unfolded between them).
template <bool Vnni, class Sink>
void knn_scan_dot(const KnnView& v, const uint8_t* queries, int64_t nq, Sink& sink) {
    const int64_t qstep = v.groups * 4;
    const int64_t stages = (v.groups + 3) / 4;
    alignas(64) uint32_t part[kKnnQueries * kKnnChunk];
    uint64_t top[kKnnQueries];
    uint32_t below[kKnnQueries];
#if defined(GREENAUTO_HAVE_DOT)
    bool small = true;  // every query code below 128 (the training codes are)
    for (int64_t j = 0; j < kKnnQueries * qstep; ++j) small = small && queries[j] < 128;
    const int64_t dot_stages = small ? min64(stages, kKnnMaxDotStages) : 0;
    DotQuery qb[kKnnMaxDotStages][kKnnQueries];
    int64_t qq[kKnnMaxDotStages][kKnnQueries];  // Q of the folded distance after each stage
    knn_dot_queries(queries, qstep, dot_stages, v.groups, Vnni, qb, qq);
#endif
    for (int64_t c = 0; c < v.n_chunks; ++c) {
        for (int64_t q = 0; q < kKnnQueries; ++q) top[q] = sink.top(q < nq ? q : 0);
        const uint32_t valid = knn_valid(v, c);
        uint32_t any = 0;
        for (int64_t s = 0; s < stages; ++s) {
#if defined(GREENAUTO_HAVE_DOT)
            if (s < dot_stages) {
                int32_t thr[kKnnQueries];
                for (int64_t q = 0; q < kKnnQueries; ++q) thr[q] = knn_threshold(qq[s][q], top[q]);
                const bool last = s + 1 == stages;
                if (s == 0) dot_stage<Vnni, kKnnQueries>(v, c, 0, last, qb[0], thr, part, below);
                else
                    for (int64_t q = 0; q < nq; ++q)
                        if (below[q] & valid)
                            dot_stage<Vnni, 1>(v, c, s, last, qb[s] + q, thr + q,
                                               part + q * kKnnChunk, below + q);
            } else {
                if (s == dot_stages && s > 0)
                    for (int64_t j = 0; j < kKnnQueries * kKnnChunk; ++j)
                        part[j] = static_cast<uint32_t>(qq[s - 1][j / kKnnChunk]) - part[j];
                dot_stage_plain(v, c, s, queries, qstep, top, part, below);
            }
#else
            dot_stage_plain(v, c, s, queries, qstep, top, part, below);
#endif
            any = 0;
            for (int64_t q = 0; q < nq; ++q) any |= below[q] & valid;
            if (!any) break;
        }
        if (!any) continue;
        for (int64_t q = 0; q < nq; ++q)  // the plain stages leave the distances themselves
            sink.offer(c, q, below[q] & valid,
                       [&](int i, uint32_t) { return part[q * kKnnChunk + i]; });
    }
}

#if defined(GREENAUTO_HAVE_DOT)
// Squared distance of two rows of codes below 128 over n bytes (a multiple of 64): byte
// differences (|d| < 128), squared and paired by an unsigned x signed multiply-add (<= 2 * 127^2,
// no saturation), then summed in 32 bits.
inline uint32_t tail_dist(const uint8_t* y, const uint8_t* q, int64_t n) {
    using W = IVec;
    W::V acc = W::zero();
    for (int64_t j = 0; j < n; j += W::kBytes) {
        const W::V a = W::abs8(W::sub8(W::load(y + j), W::load(q + j)));
        acc = W::add32(acc, W::madd16(W::maddubs(a, a), W::ones16()));
    }
    return W::hsum32(acc);
}

// Chunk c after its first filter: each query's rows still under its top there (below), in
// index order, completed with their features past the filter's (v.tail, row by row: few rows
// are left) and offered to its sink; thr, the filter's folded thresholds, follow the tops. part:
// the chunk's folded partial distances, [query][row]; qq: the queries' Q over the filter.
template <class Sink>
[[gnu::noinline]] void knn_chunk_rest(const KnnView& v, int64_t c, int64_t nq,
                                      const uint8_t (*qtail)[4 * kKnnMaxDotStages * 4],
                                      const int64_t* qq, const uint32_t* part,
                                      const uint32_t* below, Sink& sink, int32_t* thr) {
    const int64_t base = c * kKnnChunk;
    const uint32_t valid = knn_valid(v, c);
    for (int64_t q = 0; q < nq; ++q) {
        const uint32_t m = below[q] & valid;
        if (!m) continue;
        const uint32_t q0 = static_cast<uint32_t>(qq[q]);
        sink.offer(c, q, m, [&](int i, uint32_t top) {
            const uint32_t d = q0 - part[q * kKnnChunk + i];
            if (d >= top || v.tail == nullptr) return d;  // the top may have come down
            return d + tail_dist(v.tail + (base + i) * v.tail_stride, qtail[q], v.tail_stride);
        });
        thr[q] = knn_threshold(qq[q], sink.top(q));
    }
}

// The first filter of knn_scan_folded on chunk c: the folded partial distances of its rows to
// the kKnnQueries queries over the first stage (NG1 = 0: every feature) or the first two (32
// features; NG1 the second's groups, -1: known at run time only) into part ([query][row]), and
// bit i of below[q] set when row i is under the top of query q (folded threshold thr[q]).
// part is stored for every query when keep, else only for those with a bit set.
inline constexpr int32_t kKnnNoBound[kKnnQueries] = {INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN};
template <bool Vnni, int NG, int NG1>
inline void knn_first(const KnnView& v, int64_t c, const DotQuery (*qb)[kKnnQueries],
                      const int32_t* thr, bool keep, uint32_t* part, uint32_t* below) {
    if constexpr (NG1 == 0) {
        dot_stage<Vnni, kKnnQueries, NG>(v, c, 0, !keep, qb[0], thr, part, below);
    } else {
        dot_stage<Vnni, kKnnQueries, NG>(v, c, 0, false, qb[0], kKnnNoBound, part, below);
        dot_stage<Vnni, kKnnQueries, (NG1 > 0 ? NG1 : 0)>(v, c, 1, !keep, qb[1], thr, part, below);
    }
}

// The rows past the last training row in the stored first chunks (part: [chunk][query][row],
// `slots` queries, n_chunks chunks): INT32_MIN, never near (knn_warm_bound reads every lane).
inline void knn_hide_past_last(const KnnView& v, uint32_t* part, int64_t n_chunks, int64_t slots) {
    const uint32_t valid = knn_valid(v, n_chunks - 1);
    uint32_t* last = part + (n_chunks - 1) * slots * kKnnChunk;
    for (int64_t j = 0; j < slots * kKnnChunk; ++j)
        if (!(valid >> (j % kKnnChunk) & 1u)) last[j] = 0x80000000u;
}

// knn_select's bound on the k-th distance of query q from the folded partial distances of the
// first n_chunks chunks in part ([chunk][query][row], `slots` queries; rows past the last at
// INT32_MIN), completed from tail (v.tail, or null when they cover every feature). Row i
// of a chunk falls in lane i mod L (L rows per register); L the m-th largest of the lanes'
// maxima, m rows of different lanes have a part at or above it (m = k). When the filter covers
// every feature the parts are the distances: U = Q - L. Otherwise the first rows at or above L
// (k at least, 32 at most) are completed and U is the k-th smallest of their distances (more
// candidates, m = 8, tightened U little and cost more on wisdm_activity and spambase). Returns
// U + 1 (2^32 - 1: fewer than k rows, no bound).
inline uint32_t knn_warm_bound(const KnnView& v, const uint32_t* part, int64_t n_chunks,
                               int64_t slots, int64_t q, int64_t qq, const uint8_t* tail,
                               const uint8_t* qtail) {
    using W = IVec;
    constexpr int kLanes = W::kBytes / 4;
    constexpr int kRegs = kKnnChunk / kLanes;
    W::V mx = W::set32(INT32_MIN);
    for (int64_t c = 0; c < n_chunks; ++c)
        for (int h = 0; h < kRegs; ++h)
            mx = W::max32(mx, W::load(part + (c * slots + q) * kKnnChunk + kLanes * h));
    alignas(64) int32_t best[kLanes];
    W::store(best, mx);
    int32_t low = INT32_MAX;  // the k-th largest: the smallest with fewer than k above it
    for (int j = 0; j < kLanes; ++j)
        if (__builtin_popcount(W::lt32(W::set32(best[j]), mx)) < v.k) low = std::min(low, best[j]);
    if (low == INT32_MIN) return UINT32_MAX;
    const uint32_t q0 = static_cast<uint32_t>(qq);
    if (tail == nullptr) return q0 - static_cast<uint32_t>(low) + 1;
    uint32_t dist[kKnnChunk];
    int n = 0;
    const W::V under = W::set32(low - 1);
    for (int64_t c = 0; c < n_chunks && n < kKnnChunk; ++c) {
        const uint32_t* pc = part + (c * slots + q) * kKnnChunk;
        uint32_t bits = 0;
        for (int h = 0; h < kRegs; ++h)
            bits |= W::lt32(under, W::load(pc + kLanes * h)) << (kLanes * h);
        for (; bits && n < kKnnChunk; bits &= bits - 1) {
            const int i = __builtin_ctz(bits);
            dist[n++] = q0 - pc[i] +
                        tail_dist(tail + (c * kKnnChunk + i) * v.tail_stride, qtail, v.tail_stride);
        }
    }
    std::nth_element(dist, dist + v.k - 1, dist + n);
    return dist[v.k - 1] + 1;
}

// knn_scan_dot when every query code is below 128 and there are at most 256 features: the first
// filter (knn_first: 16 or 32 features, its groups known at compile time) over every chunk, its
// thresholds kept between chunks; the few rows it leaves are completed row by row
// (knn_chunk_rest).
// knn_select (a sink that takes a bound, k <= kKnnSortedK, v.part given) first warms the tops:
// offering rows in index order under the falling top alone lets through every row that is near
// before the top has come down (59 rows per query on magic where 5 are within the 5th distance;
// 144 on wisdm_activity, 44 features, with a 16-feature filter). The first filter of the first
// min(n_chunks, kKnnWarmChunks) chunks is stored whole (v.part), each query's top is lowered to
// knn_warm_bound's, and those chunks' rows under it are offered before the scan goes on. The
// log then misses rows the heap took while its top was high: it is marked compacted.
template <bool Vnni, int NG, int NG1, class Sink>
void knn_scan_folded(const KnnView& v, const uint8_t* queries, int64_t nq, Sink& sink) {
    const int64_t qstep = v.groups * 4;
    constexpr int64_t kStages = NG1 == 0 ? 1 : 2;
    constexpr int64_t kFirst = kStages * kKnnStage;  // features of the first filter
    DotQuery qb[2][kKnnQueries];
    int64_t qq[2][kKnnQueries];
    knn_dot_queries(queries, qstep, kStages, v.groups, Vnni, qb, qq);
    const int64_t* q1 = qq[kStages - 1];
    alignas(64) uint8_t qtail[kKnnQueries][4 * kKnnMaxDotStages * 4] = {};
    if (v.tail != nullptr && qstep > kFirst)  // features past the first filter
        for (int64_t q = 0; q < kKnnQueries; ++q)
            std::memcpy(qtail[q], queries + q * qstep + kFirst,
                        static_cast<std::size_t>(qstep - kFirst));
    alignas(64) uint32_t part[kKnnQueries * kKnnChunk];
    uint32_t below[kKnnQueries];
    int32_t thr[kKnnQueries];
    const auto set_thresholds = [&] {  // the unused slots never pass
        for (int64_t q = 0; q < kKnnQueries; ++q)
            thr[q] = q < nq ? knn_threshold(q1[q], sink.top(q)) : INT32_MAX;
    };
    int64_t c = 0;
    if constexpr (Sink::kWarm) {
        if (v.part != nullptr && v.k <= kKnnSortedK) {
            const int64_t n_warm = min64(v.n_chunks, kKnnWarmChunks);
            constexpr int64_t kStep = kKnnQueries * kKnnChunk;
            for (; c < n_warm; ++c)
                knn_first<Vnni, NG, NG1>(v, c, qb, kKnnNoBound, true, v.part + c * kStep, below);
            knn_hide_past_last(v, v.part, n_warm, kKnnQueries);
            for (int64_t q = 0; q < nq; ++q)
                sink.lower_top(q, knn_warm_bound(v, v.part, n_warm, kKnnQueries, q, q1[q], v.tail,
                                                 qtail[q]));
            set_thresholds();
            for (int64_t w = 0; w < n_warm; ++w) {
                using W = IVec;
                constexpr int kLanes = W::kBytes / 4;
                const uint32_t* pw = v.part + w * kStep;
                uint32_t any = 0;
                for (int64_t q = 0; q < kKnnQueries; ++q) {
                    const W::V t = W::set32(thr[q]);
                    uint32_t bits = 0;
                    for (int h = 0; h < kKnnChunk / kLanes; ++h)
                        bits |= W::lt32(t, W::load(pw + q * kKnnChunk + kLanes * h))
                                << (kLanes * h);
                    below[q] = bits;
                    any |= bits;
                }
                if (any) knn_chunk_rest(v, w, nq, qtail, q1, pw, below, sink, thr);
            }
        }
    }
    set_thresholds();
    for (; c < v.n_chunks; ++c) {
        // part stored only for the rows under their top (the only ones read)
        knn_first<Vnni, NG, NG1>(v, c, qb, thr, false, part, below);
        uint32_t any = 0;
        for (int64_t q = 0; q < kKnnQueries; ++q) any |= below[q];
        if (any) knn_chunk_rest(v, c, nq, qtail, q1, part, below, sink, thr);
    }
}

template <bool Vnni, class Sink>
void knn_scan_folded(const KnnView& v, const uint8_t* queries, int64_t nq, Sink& sink) {
    switch (v.groups) {
        case 1: return knn_scan_folded<Vnni, 1, 0>(v, queries, nq, sink);
        case 2: return knn_scan_folded<Vnni, 2, 0>(v, queries, nq, sink);
        case 3: return knn_scan_folded<Vnni, 3, 0>(v, queries, nq, sink);
        case 4: return knn_scan_folded<Vnni, 4, 0>(v, queries, nq, sink);
        case 5: case 6: case 7: return knn_scan_folded<Vnni, 4, -1>(v, queries, nq, sink);
        default: return knn_scan_folded<Vnni, 4, 4>(v, queries, nq, sink);
    }
}
#endif

// The scan of the view's layout, for either sink.
template <class Sink>
void knn_scan_any(const KnnView& v, const uint8_t* queries, int64_t nq, Sink& sink) {
    if (v.yy != nullptr) {
#if defined(GREENAUTO_HAVE_DOT)
        const bool vnni = use_vnni();
        bool small = v.groups <= 4 * kKnnMaxDotStages;  // every stage a dot-product one
        for (int64_t j = 0; j < kKnnQueries * v.groups * 4 && small; ++j) small = queries[j] < 128;
        if (small) {
            if (vnni) return knn_scan_folded<true>(v, queries, nq, sink);
            return knn_scan_folded<false>(v, queries, nq, sink);
        }
        if (vnni) return knn_scan_dot<true>(v, queries, nq, sink);
#endif
        return knn_scan_dot<false>(v, queries, nq, sink);
    }
    const int64_t first = min64(v.groups, kKnnFirstGroups);
    const int mode = v.p == 1 ? 0 : 1;
    if (first == 1) {
        if (mode == 0) knn_scan<0, 1>(v, queries, nq, sink);
        else knn_scan<1, 1>(v, queries, nq, sink);
    } else {
        if (mode == 0) knn_scan<0, 2>(v, queries, nq, sink);
        else knn_scan<1, 2>(v, queries, nq, sink);
    }
}

void knn_search(const KnnView& v, const uint8_t* queries, int64_t nq, uint32_t* dist,
                int32_t* index) {
    HeapSink sink{v, dist, index};
    knn_scan_any(v, queries, nq, sink);
}

// With the log of a query complete (every row offered under its top, in index order: all the
// rows the heap would have taken, and more), scikit-learn's heap replayed on it when the rows
// at D* carry different labels and are more than the free slots; false when they are not (the
// labels follow from the counts).
inline bool knn_replay_log(const KnnView& v, const KnnCands& t, int32_t* out) {
    const uint32_t bound = t.top - 1;  // D* (the k smallest are exact)
    int64_t closer = 0, at = 0;
    int32_t first = -1;
    bool mixed = false;
    for (int64_t j = 0; j < t.n; ++j) {
        const uint32_t d = static_cast<uint32_t>(t.buf[j] >> 32);
        closer += d < bound;
        if (d != bound) continue;
        const int32_t label = v.labels[static_cast<uint32_t>(t.buf[j])];
        first = at++ ? first : label;
        mixed = mixed || label != first;
    }
    if (!mixed || at <= v.k - closer) return false;
    uint32_t dist[kKnnSortedK];
    std::fill(dist, dist + v.k, UINT32_MAX);
    for (int64_t j = 0; j < t.n; ++j)
        heap_push(dist, out, v.k, static_cast<uint32_t>(t.buf[j] >> 32),
                  static_cast<int32_t>(static_cast<uint32_t>(t.buf[j])));
    return true;
}

// The candidate logs of up to NQ queries, each with its cand_cap entries at cand + q * cand_cap
// (kth: 16 values per query, the k smallest offered so far).
template <int NQ>
void knn_cands_init(const KnnView& v, uint64_t* cand, uint32_t (*kth)[16], KnnCands* s) {
    for (int64_t q = 0; q < NQ; ++q) {
        uint64_t* buf = cand + q * v.cand_cap;
        std::fill(kth[q], kth[q] + 16, UINT32_MAX);
        s[q] = KnnCands{buf, buf + v.k + kKnnCandSlack + kKnnChunk, kth[q], v.k <= kKnnSortedK,
                        false, 0, UINT32_MAX, 0, 0, 0, false};
    }
}

// Each query's k rows from its log once every row has been offered (knn_select's contract).
inline uint32_t knn_cands_result(const KnnView& v, int64_t nq, KnnCands* s, int32_t* index) {
    uint32_t replay = 0;
    for (int64_t q = 0; q < nq; ++q) {
        KnnCands& t = s[q];
        if (t.sorted && !t.compacted && knn_replay_log(v, t, index + q * v.k)) continue;
        knn_compact(v, t);  // t.n < k rows closer than the bound, t.tie_n >= k - t.n at it
        int32_t* out = index + q * v.k;
        for (int64_t j = 0; j < t.n; ++j) out[j] = static_cast<int32_t>(static_cast<uint32_t>(t.buf[j]));
        // the rows at D* in the free slots: all of them, or any when they share one label
        for (int64_t j = t.n; j < v.k; ++j)
            out[j] = static_cast<int32_t>(static_cast<uint32_t>(t.ties[j - t.n]));
        if (t.mixed && t.tie_n > v.k - t.n) replay |= 1u << q;
    }
    return replay;
}

uint32_t knn_select(const KnnView& v, const uint8_t* queries, int64_t nq, uint64_t* cand,
                    int32_t* index) {
    KnnCands s[kKnnQueries];
    uint32_t kth[kKnnQueries][16];
    knn_cands_init<kKnnQueries>(v, cand, kth, s);
    CollectSink sink{v, s};
    knn_scan_any(v, queries, nq, sink);
    return knn_cands_result(v, nq, s, index);
}

#if defined(GREENAUTO_LEVEL_AVX512) && defined(__x86_64__) && defined(__linux__)
#define GREENAUTO_HAVE_AMX 1
// AMX (Intel's tile matrix unit): the dot products of kKnnAmxQueries queries with 32 training
// rows in two 16 x 16 tiles of int32 (tdpbuud: unsigned bytes, 4 features per step of each
// sum, up to 64 features per instruction), the rows' sums taken from the dot-product layout as
// it is (a tile row of B is one feature group: 16 rows x 4 bytes, consecutive). Written in
// assembly with memory clobbers (the compiler must not move a load of what a tile store wrote).
#define GA_TILE_LOAD(t, base, stride)                                                   \
    asm volatile("tileloadd (%0,%1,1), %%tmm" #t ::"r"(base), "r"(static_cast<long>(stride)) \
                 : "memory")
#define GA_TILE_STORE(t, base, stride)                                                     \
    asm volatile("tilestored %%tmm" #t ", (%0,%1,1)" ::"r"(base), "r"(static_cast<long>(stride)) \
                 : "memory")
#define GA_TILE_DPBUUD(c, a, b) asm volatile("tdpbuud %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::)

struct alignas(64) TileConfig {
    uint8_t palette = 1, start_row = 0, reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
};

// Whether this process may use AMX: the CPU has AMX-TILE and AMX-INT8 and Linux grants the
// tile state (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA; asked once), and it is allowed
// (knn_amx_allowed: GREENAUTO_KNN_AMX, set_knn_amx_allowed).
bool knn_amx_ready() {
    static const bool granted = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
        if (!(d >> 24 & 1u) || !(d >> 25 & 1u)) return false;
        constexpr long kReqXcompPerm = 0x1023, kXtiledata = 18;
        return syscall(SYS_arch_prctl, kReqXcompPerm, kXtiledata) == 0;
    }();
    return granted && knn_amx_allowed();
}

// The folded distances (part: 2 q.y - |y|^2, the distance Q - part) of the kKnnAmxQueries
// queries to the 32 rows of chunk c into tiles C0, C1 (rows 0-15, 16-31): each starts as the
// rows' -|y|^2 (a tile load of stride 0 repeats them on every query's row), then the doubled
// queries (tile 2 when there is one step of 64 features, else loaded per step) times the rows'
// codes, 16 rows a tile (tiles 3, 4).
#define GA_AMX_CHUNK(C0, C1)                                                      \
    do {                                                                          \
        GA_TILE_LOAD(C0, v.nyy + c_next * kKnnChunk, 0);                          \
        GA_TILE_LOAD(C1, v.nyy + c_next * kKnnChunk + 16, 0);                     \
        for (int64_t st = 0; st < steps; ++st) {                                  \
            if (steps > 1) GA_TILE_LOAD(2, queries2 + 64 * st, qstep);            \
            const uint8_t* b = v.train + (16 * st * rows + c_next * kKnnChunk) * 4; \
            GA_TILE_LOAD(3, b, gstep);                                            \
            GA_TILE_LOAD(4, b + 64, gstep);                                       \
            GA_TILE_DPBUUD(C0, 2, 3);                                             \
            GA_TILE_DPBUUD(C1, 2, 4);                                             \
        }                                                                         \
    } while (0)

// A chunk's two tiles to p ([query][row], 32 rows a query).
#define GA_TILE_STORE_PAIR(C0, C1, p)            \
    do {                                         \
        GA_TILE_STORE(C0, (p), kKnnChunk * 4);   \
        GA_TILE_STORE(C1, (p) + 16, kKnnChunk * 4); \
    } while (0)

// The doubled queries (queries2) and their squared norms (qq) of a block; false when a code is
// 128 or more (it would not fit a byte doubled) or there are more than 256 features.
inline bool knn_amx_queries(const KnnView& v, const uint8_t* queries, uint8_t* queries2,
                            int32_t* qq) {
    const int64_t qstep = 4 * v.amx_groups;
    if (v.amx_groups < 1 || v.amx_groups > 4 * kKnnMaxDotStages) return false;
    for (int64_t q = 0; q < kKnnAmxQueries; ++q) {
        int32_t sum = 0;
        for (int64_t j = 0; j < qstep; ++j) {
            const uint8_t b = queries[q * qstep + j];
            if (b >= 128) return false;
            queries2[q * qstep + j] = static_cast<uint8_t>(2 * b);
            sum += int32_t{b} * b;
        }
        qq[q] = sum;
    }
    return true;
}

// The scan of knn_select_amx and knn_search_amx: up to kKnnAmxQueries queries of v.amx_groups
// groups of 4 bytes each (zero padded; query q at queries + q * 4 * amx_groups, every slot
// readable) on the dot-product layout (v.nyy: every row's negated squared norm): the full folded
// distance of every row compared with each query's folded threshold, the rows under its top
// offered in index order. A sink that takes a bound has its tops warmed first as
// knn_scan_folded's (the first min(n_chunks, kKnnAmxWarmChunks) chunks' distances kept in
// v.part; knn_warm_bound); then the tiles of chunk c + 1 are computed (tiles 0-1 or 5-6 in
// turn) while the rows of chunk c are offered.
template <class Sink>
void knn_amx_scan(const KnnView& v, const uint8_t* queries2, const int32_t* qq, int64_t nq,
                  Sink& sink) {
    const int64_t qstep = 4 * v.amx_groups;
    int32_t thr[kKnnAmxQueries];
    const auto set_thresholds = [&] {  // unused slots never pass
        for (int64_t q = 0; q < kKnnAmxQueries; ++q)
            thr[q] = q < nq ? knn_threshold(qq[q], sink.top(q)) : INT32_MAX;
    };
    const int64_t steps = (v.amx_groups + 15) / 16;
    const int k_bytes = static_cast<int>(4 * min64(v.amx_groups, 16));
    TileConfig cfg;
    for (int t : {0, 1, 5, 6}) cfg.rows[t] = 16, cfg.colsb[t] = 64;  // C: folded distances
    cfg.rows[2] = 16, cfg.colsb[2] = static_cast<uint16_t>(k_bytes);  // A: the doubled queries
    for (int t : {3, 4}) cfg.rows[t] = static_cast<uint8_t>(k_bytes / 4), cfg.colsb[t] = 64;
    asm volatile("ldtilecfg %0" ::"m"(cfg));
    const int64_t rows = v.n_chunks * kKnnChunk;
    const int64_t gstep = rows * 4;
    constexpr int64_t kStep = kKnnAmxQueries * kKnnChunk;  // a chunk's distances, [query][row]
    // the rows of chunk c under their query's top offered (pc: its distances)
    const auto offer = [&](int64_t c, const uint32_t* pc) {
        for (int64_t q = 0; q < nq; ++q) {
            const __m512i t = _mm512_set1_epi32(thr[q]);
            const uint32_t* pq = pc + q * kKnnChunk;
            const __mmask16 m0 = _mm512_cmplt_epi32_mask(t, _mm512_loadu_si512(pq));
            const __mmask16 m1 = _mm512_cmplt_epi32_mask(t, _mm512_loadu_si512(pq + 16));
            if (_kortestz_mask16_u8(m0, m1)) continue;  // most (query, chunk) pairs: none
            // rows past the last (a partial last chunk) never count
            const uint32_t m = (uint32_t{m0} | uint32_t{m1} << 16) & knn_valid(v, c);
            if (!m) continue;
            const uint32_t q0 = static_cast<uint32_t>(qq[q]);
            sink.offer(c, q, m, [&](int i, uint32_t) { return q0 - pq[i]; });
            thr[q] = knn_threshold(qq[q], sink.top(q));
        }
    };
    if (steps == 1) GA_TILE_LOAD(2, queries2, qstep);
    int64_t c_next = 0;
    const int64_t n_warm = Sink::kWarm && v.part != nullptr && v.k <= kKnnSortedK
                               ? min64(v.n_chunks, kKnnAmxWarmChunks) : 0;
    for (; c_next < n_warm; ++c_next) {  // two chunks in flight: tiles 0-1 and 5-6 in turn
        uint32_t* prev = v.part + (c_next - 1) * kStep;
        if (c_next % 2 == 0) {
            GA_AMX_CHUNK(0, 1);
            if (c_next > 0) GA_TILE_STORE_PAIR(5, 6, prev);
        } else {
            GA_AMX_CHUNK(5, 6);
            GA_TILE_STORE_PAIR(0, 1, prev);
        }
    }
    if (n_warm % 2 == 1) GA_TILE_STORE_PAIR(0, 1, v.part + (n_warm - 1) * kStep);
    else if (n_warm > 0) GA_TILE_STORE_PAIR(5, 6, v.part + (n_warm - 1) * kStep);
    if constexpr (Sink::kWarm) {
        if (n_warm > 0) {
            knn_hide_past_last(v, v.part, n_warm, kKnnAmxQueries);
            for (int64_t q = 0; q < nq; ++q)
                sink.lower_top(q, knn_warm_bound(v, v.part, n_warm, kKnnAmxQueries, q, qq[q],
                                                 nullptr, nullptr));
        }
    }
    set_thresholds();
    for (int64_t c = 0; c < n_warm; ++c) offer(c, v.part + c * kStep);
    alignas(64) uint32_t part[kStep];
    if (c_next < v.n_chunks) GA_AMX_CHUNK(0, 1);
    for (int64_t c = n_warm; c < v.n_chunks; ++c) {
        c_next = c + 1;
        if ((c - n_warm) % 2 == 0) {
            if (c_next < v.n_chunks) GA_AMX_CHUNK(5, 6);
            GA_TILE_STORE_PAIR(0, 1, part);
        } else {
            if (c_next < v.n_chunks) GA_AMX_CHUNK(0, 1);
            GA_TILE_STORE_PAIR(5, 6, part);
        }
        offer(c, part);
    }
    asm volatile("tilerelease" ::);
}

// knn_select with tiles; a query code >= 128 cannot be doubled in a byte: such a block is left
// to knn_select (returns false).
bool knn_select_amx(const KnnView& v, const uint8_t* queries, int64_t nq, uint64_t* cand,
                    int32_t* index, uint32_t* need) {
    alignas(64) uint8_t queries2[kKnnAmxQueries * 4 * 4 * kKnnMaxDotStages];
    int32_t qq[kKnnAmxQueries];
    if (!knn_amx_queries(v, queries, queries2, qq)) return false;
    KnnCands s[kKnnAmxQueries];
    uint32_t kth[kKnnAmxQueries][16];
    knn_cands_init<kKnnAmxQueries>(v, cand, kth, s);
    CollectSink sink{v, s};
    knn_amx_scan(v, queries2, qq, nq, sink);
    *need = knn_cands_result(v, nq, s, index);
    return true;
}

// knn_search with the same scan (kKnnAmxQueries queries as knn_select_amx takes them): the heaps
// a second scan needs, 16 queries at a time.
bool knn_search_amx(const KnnView& v, const uint8_t* queries, int64_t nq, uint32_t* dist,
                    int32_t* index) {
    alignas(64) uint8_t queries2[kKnnAmxQueries * 4 * 4 * kKnnMaxDotStages];
    int32_t qq[kKnnAmxQueries];
    if (!knn_amx_queries(v, queries, queries2, qq)) return false;
    HeapSink sink{v, dist, index};
    knn_amx_scan(v, queries2, qq, nq, sink);
    return true;
}
#undef GA_AMX_CHUNK
#undef GA_TILE_STORE_PAIR
#undef GA_TILE_LOAD
#undef GA_TILE_STORE
#undef GA_TILE_DPBUUD
#else
bool knn_amx_ready() { return false; }
#endif

}  // namespace

extern const KernelTable table;
const KernelTable table = {
#if defined(GREENAUTO_LEVEL_AVX512)
    Isa::kAvx512,
#elif defined(GREENAUTO_LEVEL_AVX2)
    Isa::kAvx2,
#else
    Isa::kScalar,
#endif
    trees_u8, trees_f64, tree_rows_u8, kRowPathsHere, tree_rows_f64, transpose_u8, transpose8_u8,
#if defined(GREENAUTO_HAVE_QS)
    true,
#else
    false,
#endif
    bin_f32, bin_f64, knn_search, knn_select,
#if defined(GREENAUTO_HAVE_AMX)
    knn_select_amx, knn_search_amx,
#else
    nullptr, nullptr,
#endif
    knn_amx_ready,
};

}  // namespace GREENAUTO_KNS
}  // namespace greenauto
