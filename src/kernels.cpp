// The kernel table of each instruction-set level.
#include "kernels.hpp"

namespace greenauto {

const KernelTable& kernel_table(Isa isa) {
#if defined(GREENAUTO_X86_KERNELS)
    if (isa == Isa::kAvx512) return kern_avx512::table;
    if (isa == Isa::kAvx2) return kern_avx2::table;
#endif
    (void)isa;
    return kern_scalar::table;
}

}  // namespace greenauto
