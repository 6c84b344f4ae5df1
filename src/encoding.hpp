// Category strings -> codes for TabularEncoder, without a Python lookup per value.
//
// StringCategories holds the fitted categories of one column (UTF-8 strings; code = position)
// in an open-addressing hash table, sparse (4-8 slots per category) and with hash multipliers
// chosen at build so that nearly every category lies in its home slot. A string up to 16 bytes
// is its length and two zero-padded 8-byte words (up to 32 bytes: and its last 16 bytes), so
// the hot loop over an Arrow string column (codes) reads each value with masked word loads
// and compares it with one slot, with no branch on its length or bytes; strings that miss
// their home slot, longer ones and the last bytes of a buffer take the general lookup.
// Encoding a column of Python objects (bind_encoding.cpp) first looks each object up by
// address in a per-call cache (pandas keeps one object per distinct string of a column, so
// after the first few rows nearly every value is a hit), and only on a miss reads its bytes.
// Nothing here touches Python; the binding does.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace greenauto {

namespace string_masks {
// kMasks[c]: the bytes [0, c) of a 16-byte string, as masks of its two little-endian words
// (a constant table: no initialisation guard in the hot loop).
struct Masks {
    std::uint64_t lo, hi;
};
constexpr Masks mask(std::size_t c) {
    return Masks{c >= 8 ? ~0ull : (1ull << (8 * c)) - 1,
                 c >= 16 ? ~0ull : c <= 8 ? 0 : (1ull << (8 * (c - 8))) - 1};
}
inline constexpr Masks kMasks[17] = {mask(0),  mask(1),  mask(2),  mask(3),  mask(4),  mask(5),
                                     mask(6),  mask(7),  mask(8),  mask(9),  mask(10), mask(11),
                                     mask(12), mask(13), mask(14), mask(15), mask(16)};
}  // namespace string_masks

class StringCategories {
   public:
    explicit StringCategories(const std::vector<std::string>& categories) {
        std::vector<Key> keys;
        keys.reserve(categories.size());
        for (const std::string& s : categories) {
            keys.push_back(full_key(s.data(), s.size(), s.data() + s.size()));
            long_ |= s.size() > 16;
        }
        std::size_t size = 16;  // sparse, so that a seed puts (nearly) every category at home
        const std::size_t spread = categories.size() <= 64 ? 8 : 4;
        while (size < spread * categories.size()) size *= 2;
        shift_ = 64;
        for (std::size_t s = size; s > 1; s >>= 1) --shift_;
        choose_seeds(keys, size);
        slots_.assign(size, Slot{{0, 0, 0, 0}, kEmpty, kEmpty, 0, -1.0});
        for (std::size_t c = 0; c < categories.size(); ++c) {
            const std::string& s = categories[c];
            const Key& k = keys[c];
            if (probe(k, s.data(), s.size()) >= 0)
                throw std::invalid_argument("category '" + s + "' is listed twice");
            std::size_t i = home(k);
            while (slots_[i].value >= 0) i = (i + 1) & (size - 1);
            displaced_ += i != home(k);
            slots_[i] = Slot{{k.w[0], k.w[1], k.w[2], k.w[3]}, s.size() <= 32 ? s.size() : kEmpty,
                             s.size(), bytes_.size(), static_cast<double>(c)};
            bytes_.insert(bytes_.end(), s.begin(), s.end());
        }
        n_ = static_cast<std::int64_t>(categories.size());
    }

    std::int64_t size() const { return n_; }
    // How many categories lie away from their home slot (looked up past it: a few compares
    // and a mispredicted branch more).
    std::int64_t displaced() const { return displaced_; }

    // Code of the UTF-8 string s[0, n), or -1 when it is not a category. [s, end) is readable
    // memory (end >= s + n).
    std::int32_t code(const char* s, std::size_t n, const char* end) const {
        return probe(full_key(s, n, end), s, n);
    }
    std::int32_t code(const char* s, std::size_t n) const { return code(s, n, s + n); }

    // Codes of the strings data[offsets[i], offsets[i+1]) for i in [first, first + n) into
    // dst (missing where bit i of valid is 0 -> NaN, not a category -> -1). The offsets must
    // be non-decreasing, from 0 to at most n_data (the caller checks). Returns whether any
    // value was not a category.
    template <typename Off>
    bool codes(const Off* offsets, const char* data, std::int64_t n_data,
               const std::uint8_t* valid, std::int64_t first, std::int64_t n, double* dst) const {
        return long_ ? codes_of<true>(offsets, data, n_data, valid, first, n, dst)
                     : codes_of<false>(offsets, data, n_data, valid, first, n, dst);
    }

   private:
    static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};

    // A string as the table compares it: its first 16 bytes zero-padded (w[0], w[1]); beyond
    // 16 bytes also its last 16 (w[2], w[3], else 0). With its length that is the whole
    // string up to 32 bytes; beyond, the bytes between are compared in bytes_ and hashed in
    // mid (full_key; the hot loop's keys leave it 0: it takes no string of over 32 bytes).
    struct Key {
        std::uint64_t w[4];
        std::size_t n;
        std::uint64_t mid;
    };
    struct alignas(64) Slot {
        std::uint64_t w[4];
        std::uint64_t fast_len;  // len up to 32 bytes, else kEmpty (the hot loop's compare)
        std::uint64_t len;       // kEmpty: an empty slot
        std::uint64_t offset;    // the category's bytes in bytes_
        double value;            // the code (-1: empty), as the hot loop writes it
    };
    static std::uint64_t load(const char* p) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);  // the masks keep the string's first bytes: little-endian
#endif
        return w;
    }

    // The key of s[0, n) where s[0, max(n, 16)) is readable; no branch on the length.
    static Key key(const char* s, std::size_t n) {
        const string_masks::Masks& m = string_masks::kMasks[n < 16 ? n : 16];
        Key k;
        k.w[0] = load(s) & m.lo;
        k.w[1] = load(s + 8) & m.hi;
        const std::uint64_t beyond = std::uint64_t{0} - static_cast<std::uint64_t>(n > 16);
        const char* t = s + ((n - 16) & beyond);  // s itself up to 16 bytes
        k.w[2] = load(t) & beyond;
        k.w[3] = load(t + 8) & beyond;
        k.n = n;
        k.mid = 0;
        return k;
    }
    // The key of s[0, n) where only [s, end) is readable, with mid.
    static Key full_key(const char* s, std::size_t n, const char* end) {
        if (end - s < 16) {  // then n < 16: a zero-padded copy is read instead
            char pad[16] = {};
            std::memcpy(pad, s, n);
            return key(pad, n);
        }
        Key k = key(s, n);
        if (n > 32) {  // the words between the head and the tail, the last one overlapping
            std::uint64_t h = 0;
            std::size_t i = 16;
            for (; i + 8 <= n - 16; i += 8) h = (h ^ load(s + i)) * 0x9E3779B97F4A7C15ull;
            if (i < n - 16) h = (h ^ load(s + n - 24)) * 0x9E3779B97F4A7C15ull;
            k.mid = h ^ (h >> 32);
        }
        return k;
    }

    // The home slot: a hash of the whole key (multipliers chosen at build; built and probed
    // in one process, never stored). Tail false: the same for a key of up to 16 bytes, whose
    // tail words are 0 (what the hot loop of a table without longer categories looks up).
    template <bool Tail = true>
    std::size_t home(const Key& k) const {
        std::uint64_t x = ((k.w[0] ^ k.n) * seed_[0]) ^ (k.w[1] * seed_[1]);
        if (Tail) x ^= (k.w[2] ^ ((k.w[3] << 29) | (k.w[3] >> 35)) ^ k.mid) * seed_[2];
        return static_cast<std::size_t>(x >> shift_);
    }

    // Linear probing from the home slot: the words, the length and, beyond 32 bytes, the
    // bytes between (s: the string).
    std::int32_t probe(const Key& k, const char* s, std::size_t n) const {
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = home(k);; i = (i + 1) & mask) {
            const Slot& e = slots_[i];
            if (e.len == kEmpty) return -1;
            if (e.len == n && e.w[0] == k.w[0] && e.w[1] == k.w[1] && e.w[2] == k.w[2] &&
                e.w[3] == k.w[3] &&
                (n <= 32 || std::memcmp(bytes_.data() + e.offset + 16, s + 16, n - 32) == 0))
                return static_cast<std::int32_t>(e.value);
        }
    }

    // The hot loop. A string whose home slot holds it (every category, given good seeds)
    // costs one slot compare, with no branch on its length or bytes; anything else (a string
    // never seen, a home taken by another category, more than 32 bytes, a string within 16
    // bytes of the end of the data) takes code(). Long: whether any category has more than 16
    // bytes (else the last 16 bytes need no compare).
    template <bool Long, typename Off>
    bool codes_of(const Off* offsets, const char* data, std::int64_t n_data,
                  const std::uint8_t* valid, std::int64_t first, std::int64_t n,
                  double* dst) const {
        std::int64_t safe = first + n;  // rows [first, safe) start >= 16 bytes before the end
        while (safe > first && static_cast<std::int64_t>(offsets[safe - 1]) > n_data - 16) --safe;
        bool unknown = false;
        const Slot* slots = slots_.data();
        for (std::int64_t i = first; i < first + n; ++i) {
            double& out = dst[i - first];
            if (valid != nullptr && ((valid[i >> 3] >> (i & 7)) & 1) == 0) {
                out = std::numeric_limits<double>::quiet_NaN();
                continue;
            }
            const std::int64_t b = static_cast<std::int64_t>(offsets[i]);
            const std::size_t len = static_cast<std::size_t>(offsets[i + 1] - offsets[i]);
            if (i < safe) {
                const Key k = key(data + b, len);
                const Slot& e = slots[home<Long>(k)];
                std::uint64_t diff = (e.fast_len ^ len) | (e.w[0] ^ k.w[0]) | (e.w[1] ^ k.w[1]);
                if (Long) diff |= (e.w[2] ^ k.w[2]) | (e.w[3] ^ k.w[3]);
                if (diff == 0) {
                    out = e.value;
                    continue;
                }
            }
            const std::int32_t c = code(data + b, len, data + n_data);
            unknown |= c < 0;
            out = c < 0 ? -1.0 : static_cast<double>(c);
        }
        return unknown;
    }

    // Multipliers of the hash under which the fewest categories share a home slot (of 64
    // triples tried; none, for a few dozen categories in a table 8 times their number).
    void choose_seeds(const std::vector<Key>& keys, std::size_t size) {
        std::uint64_t state = 0x9E3779B97F4A7C15ull, best[3] = {1, 1, 1};
        std::size_t fewest = keys.size() + 1;
        std::vector<char> taken(size);
        for (int t = 0; t < 64 && fewest > 0; ++t) {
            for (std::uint64_t& s : seed_) {
                state = state * 0xD1342543DE82EF95ull + 1;
                s = (state ^ (state >> 29)) | 1;
            }
            std::fill(taken.begin(), taken.end(), 0);
            std::size_t away = 0;
            for (const Key& k : keys) {
                char& slot = taken[home(k)];
                away += slot;
                slot = 1;
            }
            if (away < fewest) {
                fewest = away;
                std::copy(seed_, seed_ + 3, best);
            }
        }
        std::copy(best, best + 3, seed_);
    }

    std::vector<Slot> slots_;
    std::vector<char> bytes_;
    std::uint64_t seed_[3] = {1, 1, 1};
    std::int64_t displaced_ = 0;  // categories placed away from their home slot
    int shift_ = 60;
    bool long_ = false;  // a category of more than 16 bytes
    std::int64_t n_ = 0;
};

// Address -> code cache of one encoding call (objects stay alive, so addresses stay unique):
// open addressing, at most kProbes slots looked at, nothing stored once those are taken.
class AddressCache {
   public:
    explicit AddressCache(std::int64_t n_categories) {
        std::size_t size = 64;
        while (size < 8 * static_cast<std::size_t>(n_categories) && size < (1u << 16)) size *= 2;
        slots_.assign(size, Slot{nullptr, 0.0});
        mask_ = size - 1;
    }
    // The cached code of key, or false.
    bool find(const void* key, double& code) const {
        std::size_t i = slot(key);
        for (int probe = 0; probe < kProbes; ++probe, i = (i + 1) & mask_) {
            const Slot& e = slots_[i];
            if (e.key == key) {
                code = e.code;
                return true;
            }
            if (e.key == nullptr) return false;
        }
        return false;
    }
    void insert(const void* key, double code) {
        std::size_t i = slot(key);
        for (int probe = 0; probe < kProbes; ++probe, i = (i + 1) & mask_)
            if (slots_[i].key == nullptr) {
                slots_[i] = Slot{key, code};
                return;
            }
    }

   private:
    static constexpr int kProbes = 4;
    struct Slot {
        const void* key;
        double code;
    };
    std::size_t slot(const void* key) const {
        const auto a = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(key));
        return static_cast<std::size_t>((a * 0x9E3779B97F4A7C15ull) >> 40) & mask_;
    }
    std::vector<Slot> slots_;
    std::size_t mask_;
};

}  // namespace greenauto
