// Category strings -> codes for TabularEncoder, without a Python lookup per value.
//
// StringCategories holds the fitted categories of one column (UTF-8 strings; code = position)
// in an open-addressing hash table. Encoding a column of Python objects (bind_encoding.cpp)
// first looks each object up by address in a per-call cache (pandas keeps one object per
// distinct string of a column, so after the first few rows nearly every value is a hit), and
// only on a miss hashes its UTF-8 bytes. An Arrow string column is looked up value by value:
// a string of up to 16 bytes is compared as its length and two 8-byte words (no memcmp).
// Nothing here touches Python; the binding does.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace greenauto {

class StringCategories {
   public:
    explicit StringCategories(const std::vector<std::string>& categories) {
        std::size_t size = 16;
        while (size < 4 * categories.size()) size *= 2;  // most look-ups end at their slot
        slots_.assign(size, Slot{{0, 0}, 0, 0, -1});
        for (std::size_t c = 0; c < categories.size(); ++c) {
            const std::string& s = categories[c];
            const char* p = s.data();
            if (code(p, s.size(), p + s.size()) >= 0)
                throw std::invalid_argument("category '" + s + "' is listed twice");
            const Key k = key(p, s.size(), p + s.size());
            std::size_t i = k.hash & (size - 1);
            while (slots_[i].code >= 0) i = (i + 1) & (size - 1);
            slots_[i] = Slot{{k.head[0], k.head[1]}, bytes_.size(), s.size(),
                             static_cast<std::int32_t>(c)};
            bytes_.insert(bytes_.end(), s.begin(), s.end());
        }
        n_ = static_cast<std::int64_t>(categories.size());
    }

    std::int64_t size() const { return n_; }

    // Code of the UTF-8 string s[0, n), or -1 when it is not a category. [s, end) is readable
    // memory (end >= s + n): a short string is then read as two 8-byte words where it can be.
    std::int32_t code(const char* s, std::size_t n, const char* end) const {
        const Key k = key(s, n, end);
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = k.hash & mask;; i = (i + 1) & mask) {
            const Slot& e = slots_[i];
            if (e.code < 0) return -1;
            // up to 16 bytes, the length and the zero-padded first 16 bytes are the string
            if (e.len == n && e.head[0] == k.head[0] && e.head[1] == k.head[1] &&
                (n <= 16 || std::memcmp(bytes_.data() + e.offset, s, n) == 0))
                return e.code;
        }
    }
    std::int32_t code(const char* s, std::size_t n) const { return code(s, n, s + n); }

   private:
    struct Slot {
        std::uint64_t head[2];    // the key's first 16 bytes
        std::size_t offset, len;  // the category's bytes in bytes_
        std::int32_t code;        // -1: empty
    };
    // head: bytes [0, 16), zero-padded beyond n; hash: of n, head and the bytes beyond 16.
    // Built and probed in one process: never stored.
    struct Key {
        std::uint64_t head[2];
        std::uint64_t hash;
    };

    static std::uint64_t load(const char* p) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        return w;
    }

    // Bytes [0, min(n, 8)) of w (little-endian), the others zero.
    static std::uint64_t low_bytes(std::uint64_t w, std::size_t n) {
        return n >= 8 ? w : w & ((std::uint64_t{1} << (8 * n)) - 1);
    }

    static Key key(const char* s, std::size_t n, const char* end) {
        constexpr std::uint64_t k = 0x9E3779B97F4A7C15ull;
        Key out{{0, 0}, 0};
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (end - s >= 16) {  // two loads and masks, no branch on the length
            out.head[0] = low_bytes(load(s), n);
            out.head[1] = n > 8 ? low_bytes(load(s + 8), n - 8) : 0;
        } else
#endif
        {
            (void)end;
            if (n > 0) std::memcpy(out.head, s, n < 16 ? n : 16);
        }
        std::uint64_t h = (out.head[0] ^ (static_cast<std::uint64_t>(n) * k)) * k;
        h = (h ^ (h >> 29) ^ out.head[1]) * k;
        if (n > 16) {  // the words beyond 16 bytes, the last one overlapping
            for (std::size_t i = 16; i + 8 < n; i += 8) {
                h = (h ^ load(s + i)) * k;
                h ^= h >> 32;
            }
            h = (h ^ load(s + n - 8)) * k;
        }
        out.hash = h ^ (h >> 32);
        return out;
    }

    std::vector<Slot> slots_;
    std::vector<char> bytes_;
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
