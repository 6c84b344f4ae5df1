// Kernels at the AVX-512 level (compiled with AVX-512 F/BW/VL/DQ/CD flags; x86-64 only, used
// only when the CPU has them).
#define GREENAUTO_KNS kern_avx512
#define GREENAUTO_LEVEL_AVX512 1
#include "kernels_impl.hpp"
