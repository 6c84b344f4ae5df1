// Run-time detection and selection of the kernels' instruction-set level (see cpu.hpp).
#include "cpu.hpp"

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace greenauto {
namespace {

Isa detect() {
#if defined(GREENAUTO_X86_KERNELS) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                      __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
                      __builtin_cpu_supports("popcnt");
    const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                        __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512vl") &&
                        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd");
    if (avx512) return Isa::kAvx512;
    if (avx2) return Isa::kAvx2;
#endif
    return Isa::kScalar;
}

std::atomic<int>& active() {
    static std::atomic<int> level{static_cast<int>(detected_isa())};
    return level;
}

}  // namespace

Isa detected_isa() {
    static const Isa isa = detect();
    return isa;
}

Isa active_isa() { return static_cast<Isa>(active().load(std::memory_order_relaxed)); }

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::kAvx512: return "avx512";
        case Isa::kAvx2: return "avx2";
        default: return "scalar";
    }
}

Isa parse_isa(const std::string& name) {
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512})
        if (name == isa_name(isa)) return isa;
    throw std::invalid_argument("unknown instruction-set level '" + name +
                                "'; use 'scalar', 'avx2' or 'avx512'");
}

void set_active_isa(Isa isa) {
    if (static_cast<int>(isa) > static_cast<int>(detected_isa()))
        throw std::invalid_argument(std::string("this CPU or build does not support ") +
                                    isa_name(isa) + " (best available: " +
                                    isa_name(detected_isa()) + ")");
    active().store(static_cast<int>(isa), std::memory_order_relaxed);
}

namespace {
// A 0/1 switch from the environment when the module loads ('0' or '1'), else `otherwise`.
bool env_switch(const char* name, bool otherwise) {
    const char* env = std::getenv(name);
    if (env != nullptr && (env[0] == '0' || env[0] == '1') && env[1] == '\0') return env[0] == '1';
    return otherwise;
}

std::atomic<bool>& amx_allowed() {
    static std::atomic<bool> yes{env_switch("GREENAUTO_KNN_AMX", true)};
    return yes;
}

bool gathers_by_vendor() {
#if defined(GREENAUTO_X86_KERNELS) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_is("intel");
#else
    return false;
#endif
}

std::atomic<bool>& gathers() {
    static std::atomic<bool> fast{env_switch("GREENAUTO_FAST_GATHERS", gathers_by_vendor())};
    return fast;
}

constexpr const char* kRowPathNames[] = {"walk", "top", "gather"};

std::atomic<int>& row_path() {
    static std::atomic<int> path{[] {
        const char* env = std::getenv("GREENAUTO_ROW_PATH");
        if (env == nullptr || *env == '\0') return -1;
        for (int p = 0; p < 3; ++p)
            if (std::string(env) == kRowPathNames[p]) return p;
        return -1;  // "auto"; apply_isa_environment refuses any other value at load
    }()};
    return path;
}
}  // namespace

int forced_row_path() { return row_path().load(std::memory_order_relaxed); }
void set_forced_row_path(int path) { row_path().store(path, std::memory_order_relaxed); }

int parse_row_path(const std::string& name) {
    if (name == "auto") return -1;
    for (int p = 0; p < 3; ++p)
        if (name == kRowPathNames[p]) return p;
    throw std::invalid_argument("unknown row path '" + name +
                                "'; expected 'auto', 'walk', 'top' or 'gather'");
}

const char* row_path_name(int path) { return path >= 0 && path < 3 ? kRowPathNames[path] : "auto"; }

bool fast_gathers() { return gathers().load(std::memory_order_relaxed); }
void set_fast_gathers(bool yes) { gathers().store(yes, std::memory_order_relaxed); }

bool knn_amx_allowed() { return amx_allowed().load(std::memory_order_relaxed); }
void set_knn_amx_allowed(bool yes) { amx_allowed().store(yes, std::memory_order_relaxed); }

void apply_isa_environment() {
    if (const char* path = std::getenv("GREENAUTO_ROW_PATH"); path != nullptr && *path != '\0') {
        try {
            parse_row_path(path);
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(std::string("GREENAUTO_ROW_PATH: ") + e.what());
        }
    }
    const char* value = std::getenv("GREENAUTO_ISA");
    if (value == nullptr || *value == '\0' || std::string(value) == "auto") return;
    try {
        set_active_isa(parse_isa(value));
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("GREENAUTO_ISA: ") + e.what());
    }
}

}  // namespace greenauto
