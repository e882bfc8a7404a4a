// finite.h - input scans the API runs on every call (not ISA-specific).
#pragma once

#include <cstdint>

namespace cellstate {

// Index of the first NaN or ±Inf among p[0 .. n), or -1.
int64_t first_non_finite(const float* p, int64_t n);

}  // namespace cellstate
