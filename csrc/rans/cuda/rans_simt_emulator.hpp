// The SIMT coder (rans_simt.hpp) run on the host by a warp emulator, so that
// machines without a GPU (CI, this project's development machines) test the
// very code the CUDA build runs: the kernels' bodies and the host driver.
//
// Each warp is 32 fibers (ucontext) switched at every collective; the
// emulator checks that all 32 reach the same collective, so code that would
// be undefined on a GPU (a ballot under divergent control flow) fails here.
// It is slow (microseconds per collective) and meant for tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "rans/rans_tables.hpp"

namespace codec::rans::simt {

// False where fibers are not available (only glibc's Linux has them here;
// then the functions below throw and the tests that need them skip).
bool emulator_available();

// As codec::rans::encode, computed by the SIMT coder.
std::vector<std::uint8_t> emulated_encode(const RansTables& tables, const std::int32_t* values,
                                          const std::int32_t* indexes, std::size_t count, int lanes,
                                          std::uint64_t substream_size);

// As codec::rans::decode, computed by the SIMT coder. payload_on_device
// takes the driver's path for a payload in device memory (only its header
// is read on the host).
void emulated_decode(const RansTables& tables, const std::uint8_t* data, std::size_t size,
                     bool payload_on_device, const std::int32_t* indexes, std::size_t count,
                     std::int32_t* out);

}  // namespace codec::rans::simt
