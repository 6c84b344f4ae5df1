// Kernels at the portable level: any CPU (on x86-64 the SSE2 baseline).
#define GREENAUTO_KNS kern_scalar
#include "kernels_impl.hpp"
