#include "rans/rans_tables.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "rans/rans_errors.hpp"
#include "rans/rans_lookup.hpp"

namespace codec::rans {
namespace {

[[noreturn]] void bad_table(std::size_t t, const std::string& what) {
  throw UsageError("rANS table " + std::to_string(t) + ": " + what);
}

void validate_table(std::size_t t, const std::int32_t* row, std::int32_t length,
                    std::size_t max_length, std::int32_t offset, int precision) {
  if (length < 2 || static_cast<std::size_t>(length) > max_length) {
    bad_table(t, "cdf length " + std::to_string(length) + " outside [2, " +
                     std::to_string(max_length) + "]");
  }
  const std::int64_t total = std::int64_t{1} << precision;
  if (row[0] != 0) bad_table(t, "cdf[0] must be 0, got " + std::to_string(row[0]));
  if (row[length - 1] != total) {
    bad_table(t, "cdf must end at 2^" + std::to_string(precision) + " = " +
                     std::to_string(total) + ", got " + std::to_string(row[length - 1]));
  }
  for (std::int32_t i = 1; i < length; ++i) {
    if (row[i] <= row[i - 1]) {
      bad_table(t, "cdf not strictly increasing at index " + std::to_string(i) +
                       " (symbol " + std::to_string(i - 1) + " would have frequency <= 0)");
    }
  }
  // The largest regular value, offset + N_t - 1, must be an int32.
  if (std::int64_t{offset} + length - 3 > std::numeric_limits<std::int32_t>::max()) {
    bad_table(t, "offset + number of symbols exceeds the int32 range");
  }
}

// Reciprocal such that floor(x / freq) == (x * rcp) >> 64 for all x < 2^32.
// For freq >= 2, rcp = floor(2^64 / freq) + 1 overshoots 2^64 / freq by at
// most freq / 2^64 relative to x / freq, i.e. by less than 2^-32 in the
// quotient, while a non-integer x / freq is at least 1/freq >= 2^-16 below
// the next integer, so the floor is exact. freq == 1 would need 2^64 + 1;
// instead rcp = 2^64 - 1 gives q = x - 1, and adding 2^P - 1 to the bias
// restores x * 2^P + start in the update x + bias + q * (2^P - freq).
EncSymbol make_enc_symbol(std::uint32_t start, std::uint32_t freq, int precision) {
  EncSymbol e;
  e.freq = freq;
  if (freq == 1) {
    e.rcp = ~std::uint64_t{0};
    e.bias = start + (1u << precision) - 1;
  } else {
    // (2^64 - 1) / freq is floor(2^64 / freq), except one less when freq is a power of two.
    const bool power_of_two = (freq & (freq - 1)) == 0;
    e.rcp = ~std::uint64_t{0} / freq + 1 + (power_of_two ? 1 : 0);
    e.bias = start;
  }
  return e;
}

}  // namespace

RansTables::RansTables(const std::int32_t* cdfs, std::size_t num_tables, std::size_t max_length,
                       const std::int32_t* cdf_lengths, const std::int32_t* offsets, int precision)
    : precision_(precision), max_length_(max_length) {
  if (precision < kMinPrecision || precision > kMaxPrecision) {
    throw UsageError("rANS precision must be in [" + std::to_string(kMinPrecision) + ", " +
                     std::to_string(kMaxPrecision) + "], got " + std::to_string(precision));
  }
  if (num_tables == 0) throw UsageError("rANS tables: at least one table is required");
  if (num_tables > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    throw UsageError("rANS tables: more than 2^31 - 1 tables");
  }
  if (max_length < 2) throw UsageError("rANS tables: cdf rows need at least 2 entries");
  for (std::size_t t = 0; t < num_tables; ++t) {
    validate_table(t, cdfs + t * max_length, cdf_lengths[t], max_length, offsets[t], precision);
    narrow_lookup_ = narrow_lookup_ && cdf_lengths[t] - 1 <= 256;
  }

  // Fill the flat arrays first and point into them once they stop growing.
  struct Bases {
    std::size_t symbols, cdf, lookup;
    std::uint32_t shift;
  };
  std::vector<Bases> bases;
  bases.reserve(num_tables);
  for (std::size_t t = 0; t < num_tables; ++t) {
    const std::int32_t* row = cdfs + t * max_length;
    const std::int32_t length = cdf_lengths[t];
    const std::uint32_t bits = choose_lookup_bits(row, length, precision);
    bases.push_back(Bases{symbols_.size(), cdf_.size(),
                          narrow_lookup_ ? lookup8_.size() : lookup16_.size(),
                          static_cast<std::uint32_t>(precision) - bits});
    for (std::int32_t s = 0; s + 1 < length; ++s) {
      const auto start = static_cast<std::uint32_t>(row[s]);
      symbols_.push_back(make_enc_symbol(start, static_cast<std::uint32_t>(row[s + 1]) - start, precision));
    }
    for (std::int32_t i = 0; i + 1 < length; ++i) cdf_.push_back(static_cast<std::uint16_t>(row[i]));
    cdf_.push_back(0);  // the escape's end, see DecodeTable::cdf
    if (narrow_lookup_) {
      append_lookup(lookup8_, row, precision, bits);
    } else {
      append_lookup(lookup16_, row, precision, bits);
    }
  }
  encode_.reserve(num_tables);
  decode_.reserve(num_tables);
  for (std::size_t t = 0; t < num_tables; ++t) {
    const void* lookup = narrow_lookup_ ? static_cast<const void*>(lookup8_.data() + bases[t].lookup)
                                        : static_cast<const void*>(lookup16_.data() + bases[t].lookup);
    encode_.push_back(EncodeTable{symbols_.data() + bases[t].symbols, cdf_lengths[t] - 2, offsets[t]});
    decode_.push_back(DecodeTable{cdf_.data() + bases[t].cdf, lookup, bases[t].shift, offsets[t]});
  }
}

void RansTables::check_indexes(const std::int32_t* indexes, std::size_t begin, std::size_t end) const {
  const auto limit = static_cast<std::uint32_t>(encode_.size());
  // Two signed compares OR-ed together vectorize on every x86-64 (SSE2 has
  // no unsigned max, which made a max-reduction scalar and about 15% of the
  // decoder's time); the table count is at most 2^31.
  const auto last = static_cast<std::int32_t>(limit - 1);
  std::uint32_t bad = 0;
  for (std::size_t i = begin; i < end; ++i) {
    bad |= static_cast<std::uint32_t>(indexes[i] < 0) | static_cast<std::uint32_t>(indexes[i] > last);
  }
  if (bad == 0) return;
  for (std::size_t i = begin; i < end; ++i) {
    if (static_cast<std::uint32_t>(indexes[i]) >= limit) {
      throw UsageError("table index " + std::to_string(indexes[i]) + " at position " +
                       std::to_string(i) + " outside [0, " + std::to_string(limit) + ")");
    }
  }
}

}  // namespace codec::rans
