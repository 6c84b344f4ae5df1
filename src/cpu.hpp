// Instruction-set levels of the kernels and the run-time choice between them.
//
// Every hot loop is compiled once per level (kernels_<level>.cpp, each in its own namespace and
// with its own compiler flags) and picked at run time from what the CPU supports, so one build
// runs on any x86-64 (and builds on any other target, which gets the portable level only).
//   scalar  portable C++ (any CPU; the reference the SIMD levels must equal bit for bit)
//   avx2    AVX2 + FMA + BMI1/2 + POPCNT (x86-64 since Haswell / Zen 1)
//   avx512  AVX-512 F/BW/VL/DQ/CD (Skylake-SP, Ice Lake, Zen 4 and later)
// The level in use starts as the best one the CPU supports, lowered by the environment variable
// GREENAUTO_ISA=scalar|avx2|avx512 (read once, when the module loads); tests switch it with
// set_active_isa() to check that every level gives identical results.
#pragma once

#include <string>

namespace greenauto {

enum class Isa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// Best level this build and this CPU support.
Isa detected_isa();
// Level used by the next kernel call.
Isa active_isa();
// Select a level; throws std::invalid_argument when the CPU or the build lacks it.
void set_active_isa(Isa isa);
const char* isa_name(Isa isa);
// "scalar", "avx2" or "avx512" -> Isa; throws std::invalid_argument naming the value otherwise.
Isa parse_isa(const std::string& name);
// Apply GREENAUTO_ISA if set and check GREENAUTO_ROW_PATH (called once at module load);
// throws on a bad value.
void apply_isa_environment();
// Whether vector gathers are fast enough for the binning's gather path (Intel: yes; AMD, whose
// Zen 4 and Zen 5 gathers cost about one load per lane, and other vendors: no). The few-row
// path of forests is timed instead (forced_row_path).
// GREENAUTO_FAST_GATHERS=0 or 1 when the module loads overrides it (benchmarks and tests
// compare both; results are the same either way).
bool fast_gathers();
void set_fast_gathers(bool yes);
// The few-row path of binned forests (RowPath in kernels.hpp) forced for every forest, or -1
// (the default): each forest times the paths on its first calls and keeps the fastest.
// GREENAUTO_ROW_PATH=walk|top|gather when the module loads forces one; tests compare them all.
int forced_row_path();
void set_forced_row_path(int path);
// "walk", "top", "gather" (RowPath order) -> 0, 1, 2; "auto" -> -1; throws
// std::invalid_argument naming the value otherwise. And back (-1: "auto").
int parse_row_path(const std::string& name);
const char* row_path_name(int path);
// Whether the KNN may use AMX tiles where the CPU and the OS have them: yes unless
// GREENAUTO_KNN_AMX=0 when the module loads; benchmarks and tests switch it (every thread).
bool knn_amx_allowed();
void set_knn_amx_allowed(bool yes);

}  // namespace greenauto
