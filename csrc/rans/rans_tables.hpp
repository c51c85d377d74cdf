// Validated frequency tables of the rANS coder, with the derived data that
// makes per-symbol work cheap.
//
// Tables are built once per model and reused for every stream, so all the
// precomputation happens here: encoder reciprocals (no division per symbol)
// and, for the decoder, compact cdf copies plus a bucket index per table
// (rans_lookup.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace codec::rans {

inline constexpr int kMinPrecision = 10;
inline constexpr int kMaxPrecision = 16;

// Everything the encoder needs for one symbol. x / freq is computed as the
// high half of x * rcp, which is exact for every 32-bit x (see rans_tables.cpp).
struct EncSymbol {
  std::uint64_t rcp;
  std::uint32_t freq;
  std::uint32_t bias;  // start, plus 2^P - 1 when freq == 1 (see make_enc_symbol)
};

// One table as the encoder sees it: symbols[0 .. num_regular], the last
// being the escape symbol.
struct EncodeTable {
  const EncSymbol* symbols;
  std::int32_t num_regular;  // N_t
  std::int32_t offset;       // value coded by symbol 0
};

// One table as the decoder sees it. Direct pointers keep the per-symbol
// address arithmetic (and register pressure) of the decoder minimal.
struct DecodeTable {
  // cdf[0 .. N_t + 1] as uint16, except that the last entry (2^P) is stored
  // as 0: the escape symbol then fails the decoder's single fast-path test.
  const std::uint16_t* cdf;
  const void* lookup;          // uint8_t or uint16_t buckets: RansTables::narrow_lookup()
  std::uint32_t lookup_shift;  // bucket of a slot = slot >> lookup_shift
  std::int32_t offset;         // value coded by symbol 0
};

class RansTables {
 public:
  // cdfs is row-major [num_tables, max_length]; row t uses its first
  // cdf_lengths[t] entries. Throws UsageError naming the offending table.
  RansTables(const std::int32_t* cdfs, std::size_t num_tables, std::size_t max_length,
             const std::int32_t* cdf_lengths, const std::int32_t* offsets, int precision);
  // Movable (the tables point into buffers that a move keeps), not copyable.
  RansTables(RansTables&&) = default;
  RansTables& operator=(RansTables&&) = default;
  RansTables(const RansTables&) = delete;
  RansTables& operator=(const RansTables&) = delete;

  int precision() const { return precision_; }
  std::size_t num_tables() const { return encode_.size(); }
  std::size_t max_length() const { return max_length_; }

  const EncodeTable* encode_tables() const { return encode_.data(); }
  const DecodeTable* decode_tables() const { return decode_.data(); }
  // True when every table has at most 256 symbols and the buckets are
  // uint8_t (half the cache footprint); otherwise they are uint16_t.
  bool narrow_lookup() const { return narrow_lookup_; }

  // Throws UsageError unless every indexes[i] is in [0, num_tables()).
  void check_indexes(const std::int32_t* indexes, std::size_t n) const { check_indexes(indexes, 0, n); }
  // The same for indexes[begin, end); the error names the position in indexes.
  void check_indexes(const std::int32_t* indexes, std::size_t begin, std::size_t end) const;

  // The flat arrays the tables point into, for copying them to a device
  // (csrc/rans/cuda): EncodeTable::symbols, DecodeTable::cdf and
  // DecodeTable::lookup point into these.
  const std::vector<EncSymbol>& symbol_storage() const { return symbols_; }
  const std::vector<std::uint16_t>& cdf_storage() const { return cdf_; }
  const std::vector<std::uint8_t>& lookup8_storage() const { return lookup8_; }
  const std::vector<std::uint16_t>& lookup16_storage() const { return lookup16_; }

 private:
  int precision_;
  std::size_t max_length_;
  bool narrow_lookup_ = true;
  std::vector<EncodeTable> encode_;
  std::vector<DecodeTable> decode_;
  std::vector<EncSymbol> symbols_;  // N_t + 1 entries per table
  std::vector<std::uint16_t> cdf_;  // N_t + 2 entries per table (see DecodeTable::cdf)
  std::vector<std::uint8_t> lookup8_;
  std::vector<std::uint16_t> lookup16_;
};

}  // namespace codec::rans
