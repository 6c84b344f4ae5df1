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
// most 64 leaves (AVX2 / AVX-512); a branch-free walk of 16 interleaved rows for deeper trees
// and for the scalar level. KNN: byte SAD (L1) and 16-bit multiply-add (L2) distances.
#include <cstdint>
#include <cstring>

#include "kernels.hpp"

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

// ============================================================================ trees: walk
// Leaf `leaf` (global id) of tree t added to row r of a block's accumulators.
inline void add_leaf(const ForestView& f, const TreeInfo& t, int64_t leaf, int64_t r,
                     double* acc) {
    const int64_t w = f.width;
    const double* v = f.value + leaf * w;
    if (w == 1) {
        acc[t.out * kBlockRows + r] += v[0];
    } else if (!rows_major(w)) {
        for (int64_t c = 0; c < w; ++c) acc[(t.out + c) * kBlockRows + r] += v[c];
    } else {
        double* a = acc + r * f.n_outputs + t.out;
        for (int64_t c = 0; c < w; ++c) a[c] += v[c];
    }
}

// Leaf values of the walk leaves idx[0..n) of rows g.. of a block added to their outputs.
inline void add_walk_leaves(const ForestView& f, const TreeInfo& t, const uint32_t* idx,
                            int64_t g, int64_t n, double* acc) {
    if (f.width == 1) {
        double* a = acc + t.out * kBlockRows + g;
        for (int64_t r = 0; r < n; ++r) a[r] += f.value[f.leaf_of[idx[r]]];
        return;
    }
    for (int64_t r = 0; r < n; ++r) add_leaf(f, t, f.leaf_of[idx[r]], g + r, acc);
}

constexpr int kChains = 16;  // rows stepped together through one tree (independent loads)

inline void walk_u8(const ForestView& f, const TreeInfo& t, const uint8_t* cols, int64_t n,
                    double* acc) {
    const WalkNodeU8* nodes = f.nodes_u8;
    for (int64_t g = 0; g < n; g += kChains) {
        uint32_t idx[kChains];
        for (int r = 0; r < kChains; ++r) idx[r] = static_cast<uint32_t>(t.root);
        const uint8_t* c = cols + g;
        for (int32_t s = 0; s < t.depth; ++s)
            for (int r = 0; r < kChains; ++r) {
                const WalkNodeU8* nd = nodes + idx[r];
                const uint8_t v = (c + r)[static_cast<uint64_t>(nd->feature) * kBlockRows];
                idx[r] = nd->left + static_cast<uint32_t>(nd->threshold < v);
            }
        add_walk_leaves(f, t, idx, g, min64(kChains, n - g), acc);
    }
}

inline void walk_f64(const ForestView& f, const TreeInfo& t, const double* cols, int64_t n,
                     double* acc) {
    const WalkNodeF* nodes = f.nodes_f;
    for (int64_t g = 0; g < n; g += kChains) {
        uint32_t idx[kChains];
        for (int r = 0; r < kChains; ++r) idx[r] = static_cast<uint32_t>(t.root);
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

// A few rows read row-major: 8 trees stepped together per row (the latency path).
template <typename In, typename Step>
inline void rows_by_tree(const ForestView& f, const In* x, int64_t stride, int64_t n,
                         double* acc, Step step) {
    constexpr int kTrees = 8;
    for (int64_t r = 0; r < n; ++r) {
        const In* row = x + r * stride;
        for (int64_t t0 = 0; t0 < f.n_trees; t0 += kTrees) {
            const int kt = static_cast<int>(min64(kTrees, f.n_trees - t0));
            uint32_t idx[kTrees];
            int32_t depth = 0;
            for (int k = 0; k < kTrees; ++k) {
                const TreeInfo& t = f.trees[t0 + (k < kt ? k : 0)];
                idx[k] = static_cast<uint32_t>(t.root);
                if (k < kt && t.depth > depth) depth = t.depth;
            }
            for (int32_t s = 0; s < depth; ++s)
                for (int k = 0; k < kTrees; ++k) idx[k] = step(idx[k], row);
            for (int k = 0; k < kt; ++k)
                add_walk_leaves(f, f.trees[t0 + k], idx + k, r, 1, acc);
        }
    }
}

void tree_rows_u8(const ForestView& f, const uint8_t* x, int64_t stride, int64_t n,
                  double* acc) {
    const WalkNodeU8* nodes = f.nodes_u8;
    rows_by_tree(f, x, stride, n, acc, [nodes](uint32_t i, const uint8_t* row) {
        const WalkNodeU8* nd = nodes + i;
        return nd->left + static_cast<uint32_t>(nd->threshold < row[nd->feature]);
    });
}

void tree_rows_f64(const ForestView& f, const double* x, int64_t stride, int64_t n,
                   double* acc) {
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
                          int64_t n, double* acc) {
    if (f.width == 1) {
        const double* v = f.value + t.leaf_begin;
        double* a = acc + t.out * kBlockRows;
        for (int64_t r = 0; r < n; ++r) a[r] += v[leaf[r]];
        return;
    }
    for (int64_t r = 0; r < n; ++r) add_leaf(f, t, t.leaf_begin + leaf[r], r, acc);
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
                     double* acc) {
    double* a = acc + t.out * kBlockRows + r;
    _mm512_storeu_pd(a, _mm512_add_pd(_mm512_loadu_pd(a), qs_values<L>(f.value + t.leaf_begin,
                                                                         leaf64)));
}

// Trees of at most 32 leaves: 16 rows per register of 32-bit bitvectors.
template <int L>
inline void qs32(const ForestView& f, const TreeInfo& t, const uint8_t* cols, int64_t n,
                 double* acc) {
    __m512i v0 = _mm512_set1_epi32(-1), v1 = v0, v2 = v0, v3 = v0;
    const uint32_t* off = f.qs_offset + t.qs_begin;
    const uint8_t* thr = f.qs_threshold + t.qs_begin;
    const uint64_t* mask = f.qs_mask + t.qs_begin;
    for (int32_t i = 0; i < t.qs_nodes; ++i) {
        const __mmask64 k = _mm512_cmpgt_epu8_mask(_mm512_loadu_si512(cols + off[i]),
                                                  _mm512_set1_epi8(static_cast<char>(thr[i])));
        const __m512i m = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(mask[i])));
        v0 = _mm512_mask_and_epi32(v0, static_cast<__mmask16>(k), v0, m);
        v1 = _mm512_mask_and_epi32(v1, static_cast<__mmask16>(k >> 16), v1, m);
        v2 = _mm512_mask_and_epi32(v2, static_cast<__mmask16>(k >> 32), v2, m);
        v3 = _mm512_mask_and_epi32(v3, static_cast<__mmask16>(k >> 48), v3, m);
    }
    const __m512i top = _mm512_set1_epi32(31);
    __m512i vs[4] = {v0, v1, v2, v3};
    alignas(64) uint32_t leaf[kBlockRows];
    for (int j = 0; j < 4; ++j) {
        const __m512i low = _mm512_and_si512(vs[j], _mm512_sub_epi32(_mm512_setzero_si512(), vs[j]));
        const __m512i l = _mm512_sub_epi32(top, _mm512_lzcnt_epi32(low));
        if (f.width == 1) {
            qs_add_8<L>(f, t, _mm512_cvtepu32_epi64(_mm512_castsi512_si256(l)), 16 * j, acc);
            qs_add_8<L>(f, t, _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(l, 1)),
                        16 * j + 8, acc);
        } else {
            _mm512_store_si512(leaf + 16 * j, l);
        }
    }
    if (f.width != 1) add_qs_leaves(f, t, leaf, n, acc);
}

// Trees of 33 to 64 leaves: 8 rows per register of 64-bit bitvectors.
inline void qs64(const ForestView& f, const TreeInfo& t, const uint8_t* cols, int64_t n,
                 double* acc) {
    __m512i v[8];
    for (int j = 0; j < 8; ++j) v[j] = _mm512_set1_epi64(-1);
    const uint32_t* off = f.qs_offset + t.qs_begin;
    const uint8_t* thr = f.qs_threshold + t.qs_begin;
    const uint64_t* mask = f.qs_mask + t.qs_begin;
    for (int32_t i = 0; i < t.qs_nodes; ++i) {
        const __mmask64 k = _mm512_cmpgt_epu8_mask(_mm512_loadu_si512(cols + off[i]),
                                                  _mm512_set1_epi8(static_cast<char>(thr[i])));
        const __m512i m = _mm512_set1_epi64(static_cast<long long>(mask[i]));
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

inline void qs_tree(const ForestView& f, const TreeInfo& t, const uint8_t* cols, int64_t n,
                    double* acc) {
    if (t.qs_leaves == 16) qs32<16>(f, t, cols, n, acc);
    else if (t.qs_leaves == 32) qs32<32>(f, t, cols, n, acc);
    else qs64(f, t, cols, n, acc);
}
#define GREENAUTO_HAVE_QS 1

#elif defined(GREENAUTO_LEVEL_AVX2)
// 0xFF in byte r where row r's code <= threshold (the node's test holds).
inline __m256i qs_holds(const uint8_t* c, __m256i thr) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c));
    return _mm256_cmpeq_epi8(_mm256_subs_epu8(x, thr), _mm256_setzero_si256());
}

// Trees of at most 32 leaves: 8 rows per register of 32-bit bitvectors, 64 rows in 8.
inline void qs32(const ForestView& f, const TreeInfo& t, const uint8_t* cols, int64_t n,
                 double* acc) {
    __m256i v[8];
    for (int j = 0; j < 8; ++j) v[j] = _mm256_set1_epi32(-1);
    const uint32_t* off = f.qs_offset + t.qs_begin;
    const uint8_t* thr = f.qs_threshold + t.qs_begin;
    const uint64_t* mask = f.qs_mask + t.qs_begin;
    for (int32_t i = 0; i < t.qs_nodes; ++i) {
        const __m256i th = _mm256_set1_epi8(static_cast<char>(thr[i]));
        const __m256i m = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(mask[i])));
        for (int h = 0; h < 2; ++h) {
            const __m256i holds = qs_holds(cols + off[i] + 32 * h, th);
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
    alignas(32) uint32_t bits[kBlockRows], leaf[kBlockRows];
    for (int j = 0; j < 8; ++j) _mm256_store_si256(reinterpret_cast<__m256i*>(bits + 8 * j), v[j]);
    for (int64_t r = 0; r < n; ++r) leaf[r] = static_cast<uint32_t>(__builtin_ctz(bits[r]));
    add_qs_leaves(f, t, leaf, n, acc);
}

// Rows 4J..4J+3 of each 16-row half: bitvectors AND (mask, or all ones where the test holds).
template <int J>
inline void qs64_and(__m256i* v, __m128i lo, __m128i hi, __m256i m) {
    v[J] = _mm256_and_si256(v[J], _mm256_or_si256(m, _mm256_cvtepi8_epi64(_mm_srli_si128(lo, 4 * J))));
    v[4 + J] = _mm256_and_si256(v[4 + J],
                                _mm256_or_si256(m, _mm256_cvtepi8_epi64(_mm_srli_si128(hi, 4 * J))));
}

// Trees of 33 to 64 leaves: 4 rows per register of 64-bit bitvectors, 32 rows at a time.
inline void qs64(const ForestView& f, const TreeInfo& t, const uint8_t* cols, int64_t n,
                 double* acc) {
    alignas(32) uint64_t bits[kBlockRows];
    alignas(32) uint32_t leaf[kBlockRows];
    const uint32_t* off = f.qs_offset + t.qs_begin;
    const uint8_t* thr = f.qs_threshold + t.qs_begin;
    const uint64_t* mask = f.qs_mask + t.qs_begin;
    for (int h = 0; h < 2; ++h) {
        __m256i v[8];
        for (int j = 0; j < 8; ++j) v[j] = _mm256_set1_epi64x(-1);
        for (int32_t i = 0; i < t.qs_nodes; ++i) {
            const __m256i holds =
                qs_holds(cols + off[i] + 32 * h, _mm256_set1_epi8(static_cast<char>(thr[i])));
            const __m256i m = _mm256_set1_epi64x(static_cast<long long>(mask[i]));
            const __m128i lo = _mm256_castsi256_si128(holds);
            const __m128i hi = _mm256_extracti128_si256(holds, 1);
            qs64_and<0>(v, lo, hi, m);
            qs64_and<1>(v, lo, hi, m);
            qs64_and<2>(v, lo, hi, m);
            qs64_and<3>(v, lo, hi, m);
        }
        for (int j = 0; j < 8; ++j)
            _mm256_store_si256(reinterpret_cast<__m256i*>(bits + 32 * h + 4 * j), v[j]);
    }
    for (int64_t r = 0; r < n; ++r) leaf[r] = static_cast<uint32_t>(__builtin_ctzll(bits[r]));
    add_qs_leaves(f, t, leaf, n, acc);
}

inline void qs_tree(const ForestView& f, const TreeInfo& t, const uint8_t* cols, int64_t n,
                    double* acc) {
    if (t.qs_leaves <= 32) qs32(f, t, cols, n, acc);
    else qs64(f, t, cols, n, acc);
}
#define GREENAUTO_HAVE_QS 1
#endif

// Every tree over every block of the call (a tree's nodes stay in L1 across its blocks).
void trees_u8(const ForestView& f, const uint8_t* cols, int64_t n, double* acc) {
    const int64_t col_step = f.n_features * kBlockRows, acc_step = f.n_outputs * kBlockRows;
    for (int64_t t = 0; t < f.n_trees; ++t) {
        const TreeInfo& info = f.trees[t];
        for (int64_t r0 = 0, b = 0; r0 < n; r0 += kBlockRows, ++b) {
            const int64_t m = min64(kBlockRows, n - r0);
#if defined(GREENAUTO_HAVE_QS)
            if (info.qs_leaves) {
                qs_tree(f, info, cols + b * col_step, m, acc + b * acc_step);
                continue;
            }
#endif
            walk_u8(f, info, cols + b * col_step, m, acc + b * acc_step);
        }
    }
}

void trees_f64(const ForestView& f, const double* cols, int64_t n, double* acc) {
    const int64_t col_step = f.n_features * kBlockRows, acc_step = f.n_outputs * kBlockRows;
    for (int64_t t = 0; t < f.n_trees; ++t)
        for (int64_t r0 = 0, b = 0; r0 < n; r0 += kBlockRows, ++b)
            walk_f64(f, f.trees[t], cols + b * col_step, min64(kBlockRows, n - r0),
                     acc + b * acc_step);
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
    if (!two_stage) {
        for (int64_t r = 0; r < n; ++r) {
            const T v = x[r * row_stride];
            const unsigned b = count_le16(v, table);
            out[r * out_stride] = (v != v) ? nan_bin : static_cast<uint8_t>(b);
        }
        return;
    }
    const T* blocks = table + 16;
    for (int64_t r = 0; r < n; ++r) {
        const T v = x[r * row_stride];
        const unsigned a = count_le16(v, table) & 15u;
        const unsigned b = count_le16(v, blocks + 16 * a);
        out[r * out_stride] = (v != v) ? nan_bin : static_cast<uint8_t>(16 * a + b);
    }
}

void bin_f32(const float* table, int two_stage, uint8_t nan_bin, const float* x,
             int64_t row_stride, int64_t n, uint8_t* out, int64_t out_stride) {
    bin_column(table, two_stage, nan_bin, x, row_stride, n, out, out_stride);
}

void bin_f64(const double* table, int two_stage, uint8_t nan_bin, const double* x,
             int64_t row_stride, int64_t n, uint8_t* out, int64_t out_stride) {
    bin_column(table, two_stage, nan_bin, x, row_stride, n, out, out_stride);
}

// ================================================================================== KNN
void knn_chunk(const uint8_t* queries, int64_t nq, const uint8_t* chunk, int64_t groups, int p,
               const uint32_t* top, uint32_t* dist, uint32_t* below) {
    for (int64_t q = 0; q < nq; ++q) {
        const uint8_t* qr = queries + q * groups * 8;
        uint32_t* d = dist + q * kKnnChunk;
#if defined(GREENAUTO_LEVEL_AVX512)
        __m512i acc[4];
        for (int j = 0; j < 4; ++j) acc[j] = _mm512_setzero_si512();
        for (int64_t g = 0; g < groups; ++g) {
            uint64_t qg;
            std::memcpy(&qg, qr + 8 * g, 8);
            const __m512i qb = _mm512_set1_epi64(static_cast<long long>(qg));
            const uint8_t* y = chunk + g * kKnnChunk * 8;
            for (int j = 0; j < 4; ++j) {
                const __m512i t = _mm512_loadu_si512(y + 64 * j);
                if (p == 1) {
                    acc[j] = _mm512_add_epi64(acc[j], _mm512_sad_epu8(t, qb));
                } else {
                    const __m512i a = _mm512_sub_epi8(_mm512_max_epu8(t, qb), _mm512_min_epu8(t, qb));
                    const __m512i z = _mm512_setzero_si512();
                    const __m512i lo = _mm512_unpacklo_epi8(a, z), hi = _mm512_unpackhi_epi8(a, z);
                    const __m512i sl = _mm512_madd_epi16(lo, lo), sh = _mm512_madd_epi16(hi, hi);
                    // per 64-bit lane (one row): two 32-bit partial sums
                    acc[j] = _mm512_add_epi32(acc[j], _mm512_add_epi32(_mm512_unpacklo_epi64(sl, sh),
                                                                       _mm512_unpackhi_epi64(sl, sh)));
                }
            }
        }
        uint32_t bits = 0;
        const __m512i tp = _mm512_set1_epi64(static_cast<long long>(top[q]));
        for (int j = 0; j < 4; ++j) {
            __m512i s = acc[j];
            if (p != 1)
                s = _mm512_add_epi64(_mm512_and_si512(s, _mm512_set1_epi64(0xFFFFFFFFll)),
                                     _mm512_srli_epi64(s, 32));
            bits |= static_cast<uint32_t>(_mm512_cmplt_epu64_mask(s, tp)) << (8 * j);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + 8 * j), _mm512_cvtepi64_epi32(s));
        }
        below[q] = bits;
#elif defined(GREENAUTO_LEVEL_AVX2)
        __m256i acc[8];
        for (int j = 0; j < 8; ++j) acc[j] = _mm256_setzero_si256();
        for (int64_t g = 0; g < groups; ++g) {
            uint64_t qg;
            std::memcpy(&qg, qr + 8 * g, 8);
            const __m256i qb = _mm256_set1_epi64x(static_cast<long long>(qg));
            const uint8_t* y = chunk + g * kKnnChunk * 8;
            for (int j = 0; j < 8; ++j) {
                const __m256i t = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + 32 * j));
                if (p == 1) {
                    acc[j] = _mm256_add_epi64(acc[j], _mm256_sad_epu8(t, qb));
                } else {
                    const __m256i a = _mm256_sub_epi8(_mm256_max_epu8(t, qb), _mm256_min_epu8(t, qb));
                    const __m256i z = _mm256_setzero_si256();
                    const __m256i lo = _mm256_unpacklo_epi8(a, z), hi = _mm256_unpackhi_epi8(a, z);
                    const __m256i sl = _mm256_madd_epi16(lo, lo), sh = _mm256_madd_epi16(hi, hi);
                    acc[j] = _mm256_add_epi32(acc[j], _mm256_add_epi32(_mm256_unpacklo_epi64(sl, sh),
                                                                       _mm256_unpackhi_epi64(sl, sh)));
                }
            }
        }
        alignas(32) uint64_t s[kKnnChunk];
        for (int j = 0; j < 8; ++j) _mm256_store_si256(reinterpret_cast<__m256i*>(s + 4 * j), acc[j]);
        uint32_t bits = 0;
        for (int i = 0; i < kKnnChunk; ++i) {
            const uint64_t v = (p == 1) ? s[i] : (s[i] & 0xFFFFFFFFu) + (s[i] >> 32);
            d[i] = static_cast<uint32_t>(v);
            bits |= static_cast<uint32_t>(v < top[q]) << i;
        }
        below[q] = bits;
#else
        uint32_t bits = 0;
        for (int i = 0; i < kKnnChunk; ++i) {
            uint32_t sum = 0;
            for (int64_t g = 0; g < groups; ++g) {
                const uint8_t* y = chunk + (g * kKnnChunk + i) * 8;
                for (int b = 0; b < 8; ++b) {
                    const int32_t diff = static_cast<int32_t>(y[b]) - qr[8 * g + b];
                    sum += static_cast<uint32_t>(p == 1 ? (diff < 0 ? -diff : diff) : diff * diff);
                }
            }
            d[i] = sum;
            bits |= static_cast<uint32_t>(sum < top[q]) << i;
        }
        below[q] = bits;
#endif
    }
}

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
    trees_u8, trees_f64, tree_rows_u8, tree_rows_f64, bin_f32, bin_f64, knn_chunk,
};

}  // namespace GREENAUTO_KNS
}  // namespace greenauto
