// Kernels at the AVX2 level (compiled with -mavx2 -mfma -mbmi -mbmi2 -mpopcnt; x86-64 only,
// used only when the CPU has them).
#define GREENAUTO_KNS kern_avx2
#define GREENAUTO_LEVEL_AVX2 1
#include "kernels_impl.hpp"
