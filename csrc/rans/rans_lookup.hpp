// The decoder's bucket index: slot >> shift names a bucket, and the bucket
// stores the first symbol whose interval overlaps it, so the symbol of a slot
// is that one or (rarely) a few further.
//
// Bucket count is the main speed/size trade-off of the decoder: every extra
// step past the bucket's symbol is a mispredicted branch, while a large index
// falls out of the L1 cache. It is therefore sized per table from the table's
// own frequencies (see choose_lookup_bits).
#pragma once

#include <cstdint>
#include <vector>

namespace codec::rans {

// Bucket bits for a valid cdf of length entries at the given precision.
std::uint32_t choose_lookup_bits(const std::int32_t* cdf, std::int32_t length, int precision);

// Appends the 2^bits buckets of cdf; entries must fit T.
template <typename T>
void append_lookup(std::vector<T>& out, const std::int32_t* cdf, int precision, std::uint32_t bits);

}  // namespace codec::rans
