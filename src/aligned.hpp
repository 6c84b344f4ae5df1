// Storage that starts on a 64-byte boundary (a cache line, one AVX-512 register), so that the
// kernels' fixed-size rows (integer leaf rows, accumulator rows) never straddle two lines:
// glibc's large blocks start 16 bytes past a page, where every 64-byte row would be split.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace greenauto {

inline constexpr std::size_t kLineBytes = 64;

template <typename T>
struct LineAllocator {
    using value_type = T;
    LineAllocator() = default;
    template <typename U>
    LineAllocator(const LineAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) {
        return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{kLineBytes}));
    }
    void deallocate(T* p, std::size_t) noexcept {
        ::operator delete(p, std::align_val_t{kLineBytes});
    }
    template <typename U>
    bool operator==(const LineAllocator<U>&) const noexcept { return true; }
    template <typename U>
    bool operator!=(const LineAllocator<U>&) const noexcept { return false; }
};

template <typename T>
using LineVector = std::vector<T, LineAllocator<T>>;

// An uninitialised array of n trivial T on a line boundary (scratch that is written before it
// is read).
struct LineFree {
    void operator()(void* p) const noexcept { ::operator delete(p, std::align_val_t{kLineBytes}); }
};
template <typename T>
using LineArray = std::unique_ptr<T[], LineFree>;
template <typename T>
LineArray<T> line_array(std::size_t n) {
    return LineArray<T>(static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{kLineBytes})));
}

}  // namespace greenauto
