#include "rans/rans_lookup.hpp"

#include <algorithm>

namespace codec::rans {
namespace {

// Mean number of forward steps past the bucket's first symbol, over all
// slots weighted equally, which is the table's own probability of each slot.
double expected_steps(const std::int32_t* cdf, int precision, std::uint32_t bits) {
  const std::uint32_t shift = static_cast<std::uint32_t>(precision) - bits;
  std::int64_t steps = 0;
  std::int32_t s = 0;
  for (std::int64_t b = 0; b < (std::int64_t{1} << bits); ++b) {
    const std::int64_t lo = b << shift;
    const std::int64_t hi = (b + 1) << shift;
    while (cdf[s + 1] <= lo) ++s;
    for (std::int32_t k = s; cdf[k] < hi; ++k) {
      steps += (k - s) * (std::min<std::int64_t>(cdf[k + 1], hi) - std::max<std::int64_t>(cdf[k], lo));
    }
  }
  return static_cast<double>(steps) / static_cast<double>(std::int64_t{1} << precision);
}

}  // namespace

std::uint32_t choose_lookup_bits(const std::int32_t* cdf, std::int32_t length, int precision) {
  // Start at one bucket per symbol, and refine until a decode needs a step
  // only one time in 64, with at most 16 buckets per symbol: measured on
  // Gaussian tables, finer buckets cost more in cache misses than they save
  // in mispredicted branches.
  constexpr double kTargetSteps = 1.0 / 64;
  constexpr std::uint32_t kMaxExtraBits = 4;
  const auto max_bits = static_cast<std::uint32_t>(precision);
  std::uint32_t bits = 0;
  while (bits < max_bits && (std::int64_t{1} << bits) < length - 1) ++bits;
  const std::uint32_t limit = std::min(bits + kMaxExtraBits, max_bits);
  while (bits < limit && expected_steps(cdf, precision, bits) > kTargetSteps) ++bits;
  return bits;
}

template <typename T>
void append_lookup(std::vector<T>& out, const std::int32_t* cdf, int precision, std::uint32_t bits) {
  const std::uint32_t shift = static_cast<std::uint32_t>(precision) - bits;
  std::int32_t s = 0;
  for (std::int64_t b = 0; b < (std::int64_t{1} << bits); ++b) {
    while (cdf[s + 1] <= (b << shift)) ++s;
    out.push_back(static_cast<T>(s));
  }
}

template void append_lookup<std::uint8_t>(std::vector<std::uint8_t>&, const std::int32_t*, int,
                                          std::uint32_t);
template void append_lookup<std::uint16_t>(std::vector<std::uint16_t>&, const std::int32_t*, int,
                                           std::uint32_t);

}  // namespace codec::rans
