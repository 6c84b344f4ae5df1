// Category strings -> codes for TabularEncoder, without a Python lookup per value.
//
// StringCategories holds the fitted categories of one column (UTF-8 strings; code = position)
// in an open-addressing hash table. Encoding a column of Python objects (bind_encoding.cpp)
// first looks each object up by address in a per-call cache (pandas keeps one object per
// distinct string of a column, so after the first few rows nearly every value is a hit), and
// only on a miss hashes its UTF-8 bytes. Nothing here touches Python; the binding does.
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
        while (size < 2 * categories.size() + 2) size *= 2;
        slots_.assign(size, Slot{0, -1, 0, 0});
        for (std::size_t c = 0; c < categories.size(); ++c) {
            const std::string& s = categories[c];
            if (code(s.data(), s.size()) >= 0)
                throw std::invalid_argument("category '" + s + "' is listed twice");
            const std::uint64_t h = hash(s.data(), s.size());
            std::size_t i = h & (size - 1);
            while (slots_[i].code >= 0) i = (i + 1) & (size - 1);
            slots_[i] = Slot{h, static_cast<std::int32_t>(c), bytes_.size(), s.size()};
            bytes_.insert(bytes_.end(), s.begin(), s.end());
        }
        n_ = static_cast<std::int64_t>(categories.size());
    }

    std::int64_t size() const { return n_; }

    // Code of the UTF-8 string s[0, n), or -1 when it is not a category.
    std::int32_t code(const char* s, std::size_t n) const {
        const std::uint64_t h = hash(s, n);
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = h & mask;; i = (i + 1) & mask) {
            const Slot& e = slots_[i];
            if (e.code < 0) return -1;
            if (e.hash == h && e.len == n &&
                (n == 0 || std::memcmp(bytes_.data() + e.offset, s, n) == 0))
                return e.code;
        }
    }

   private:
    struct Slot {
        std::uint64_t hash;
        std::int32_t code;  // -1: empty
        std::size_t offset, len;
    };

    // 8 bytes per step (a multiply and a shift each), then the tail: a few steps for the
    // short strings categories are. Built and probed in one process: never stored.
    static std::uint64_t hash(const char* s, std::size_t n) {
        constexpr std::uint64_t k = 0x9E3779B97F4A7C15ull;
        std::uint64_t h = (static_cast<std::uint64_t>(n) + 1) * k;
        std::uint64_t w;
        for (; n >= 8; s += 8, n -= 8) {
            std::memcpy(&w, s, 8);
            h = (h ^ w) * k;
            h ^= h >> 32;
        }
        w = 0;
        if (n > 0) std::memcpy(&w, s, n);
        h = (h ^ w) * k;
        return h ^ (h >> 29);
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
