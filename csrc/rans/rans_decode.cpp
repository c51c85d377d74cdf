// Substream decoder.
//
// The hot loop never checks bounds. Words are read in place while the bytes
// left cover a whole group's worst case (kMaxWordsPerValue per symbol); the
// last few words are copied into a zero-padded buffer, and reads past the
// real end, which can only land in the padding, are detected after each
// group. So no read ever leaves the substream or the buffer, and the same
// fast code decodes all of it, including streams that emit hardly any words.

#include <algorithm>
#include <cstring>
#include <limits>

#include "rans/rans_errors.hpp"
#include "rans/rans_format.hpp"
#include "rans/rans_lane.hpp"
#include "rans/rans_substream.hpp"

namespace codec::rans {
namespace {

// Passed by value and never address-taken, so that its fields live in
// registers rather than being reloaded after every output store.
struct DecodeContext {
  const DecodeTable* tables;
  std::uint32_t precision;
  // Error offsets: a word pointer q is at payload offset (q - base) + base_offset,
  // capped at limit (reads past the end only happen into the padding).
  const std::uint8_t* base;
  std::size_t base_offset;
  std::size_t limit;
};

[[noreturn]] CODEC_RANS_COLD void throw_corrupt(const char* what, const DecodeContext& c,
                                                const std::uint8_t* at) {
  const auto offset = std::min(static_cast<std::size_t>(at - c.base) + c.base_offset, c.limit);
  throw CorruptStream(what, offset);
}

// Branch-free (a refill is too random to predict, and compilers turn a
// ternary into a branch): the word is loaded whether or not it is needed and
// masked away, with the shift and the advance, when it is not.
CODEC_RANS_INLINE void renorm(std::uint32_t& x, const std::uint8_t*& p) {
  const std::uint32_t mask = 0u - static_cast<std::uint32_t>(x < kStateLow);
  x = (x << (mask & 16)) | (load_u16(p) & mask);
  p += mask & 2;
}

struct LaneCursor {
  std::uint32_t x;
  const std::uint8_t* p;
};

CODEC_RANS_INLINE std::uint32_t decode_nibble(LaneCursor& lane) {
  const std::uint32_t nibble = lane.x & 15u;
  lane.x >>= 4;
  renorm(lane.x, lane.p);
  return nibble;
}

// Bypass part of an escaped value of a table with num_regular symbols (the
// escape symbol itself is already decoded). Rejects group counts above 9, a
// zero top group (so that a value has one encoding only) and values outside
// int32. Takes and returns the lane by value so that the hot loop's states
// never have their address taken.
CODEC_RANS_COLD LaneCursor decode_escape(LaneCursor lane, std::int32_t offset,
                                         std::uint32_t num_regular, const DecodeContext& c,
                                         std::int32_t& value) {
  const std::uint8_t* const at = lane.p;
  const std::uint32_t groups = decode_nibble(lane) + 1;
  if (groups > static_cast<std::uint32_t>(kMaxEscapeGroups)) {
    throw_corrupt("rANS escape has more than 9 groups", c, at);
  }
  std::uint64_t w = 0;
  std::uint32_t top = 0;
  for (std::uint32_t g = 0; g < groups; ++g) {
    top = decode_nibble(lane);
    w |= std::uint64_t{top} << (4 * g);
  }
  if (groups > 1 && top == 0) throw_corrupt("rANS escape value is not minimally encoded", c, at);
  const auto d = static_cast<std::int64_t>(w >> 1);
  const std::int64_t v = (w & 1) != 0 ? std::int64_t{offset} - 1 - d
                                       : std::int64_t{offset} + num_regular + d;
  if (v < std::numeric_limits<std::int32_t>::min() || v > std::numeric_limits<std::int32_t>::max()) {
    throw_corrupt("rANS escape value outside the int32 range", c, at);
  }
  value = static_cast<std::int32_t>(v);
  return lane;
}

// kPrecision > 0 fixes P at compile time (immediate shifts and masks in the
// hottest code); kPrecision == 0 reads it from the context. Bucket is the
// lookup entry type (RansTables::narrow_lookup()).
template <int kPrecision, typename Bucket>
CODEC_RANS_INLINE std::int32_t decode_value(std::uint32_t& x, std::int32_t index,
                                            const std::uint8_t*& p, const DecodeContext& c) {
  const std::uint32_t precision = kPrecision > 0 ? kPrecision : c.precision;
  const std::uint32_t total = 1u << precision;
  const DecodeTable t = c.tables[index];
  const std::uint16_t* cdf = t.cdf;
  const std::uint32_t slot = x & (total - 1);
  // The bucket's first symbol is usually right; otherwise walk forward. The
  // escape symbol's end is stored as 0, so it also takes the rare path and
  // the common path has a single branch.
  std::uint32_t s = static_cast<const Bucket*>(t.lookup)[slot >> t.lookup_shift];
  std::uint32_t start = cdf[s];
  std::uint32_t end = cdf[s + 1];
  if (CODEC_RANS_UNLIKELY(end <= slot)) {
    while (end != 0 && end <= slot) {
      ++s;
      start = end;
      end = cdf[s + 1];
    }
    if (end == 0) {
      x = (total - start) * (x >> precision) + slot - start;
      renorm(x, p);
      std::int32_t value;
      const LaneCursor lane = decode_escape(LaneCursor{x, p}, t.offset, s, c, value);
      x = lane.x;
      p = lane.p;
      return value;
    }
  }
  x = (end - start) * (x >> precision) + slot - start;
  renorm(x, p);
  return t.offset + static_cast<std::int32_t>(s);
}

// kLanes > 0 fixes the lane count at compile time so that the states stay in
// registers; kLanes == 0 handles any count.
template <int kLanes, int kPrecision, typename Bucket>
void decode_lanes(const DecodeContext c, std::size_t begin, std::size_t end,
                  const std::int32_t* indexes, std::size_t count, int runtime_lanes,
                  std::int32_t* out) {
  const int lanes = kLanes > 0 ? kLanes : runtime_lanes;
  const std::uint8_t* p = c.base + begin;
  std::uint32_t x[kLanes > 0 ? kLanes : kMaxLanes];
  bool below = false;
  for_lanes<kLanes>(lanes, [&](int l) CODEC_RANS_LAMBDA_INLINE {
    x[l] = load_u32(p + 4 * l);
    below |= x[l] < kStateLow;
  });
  if (below) throw_corrupt("rANS initial state below 2^16", c, p);
  p += 4 * lanes;

  // Decodes symbols [first, first + n) of the substream, n <= lanes, reading at q.
  auto group = [&](const std::uint8_t*& q, const DecodeContext& ctx, std::size_t first, int n)
                   CODEC_RANS_LAMBDA_INLINE {
    for_lanes<kLanes>(lanes, [&](int l) CODEC_RANS_LAMBDA_INLINE {
      if (l < n) out[first + l] = decode_value<kPrecision, Bucket>(x[l], indexes[first + l], q, ctx);
    });
  };
  const std::ptrdiff_t group_bytes = 2 * static_cast<std::ptrdiff_t>(kMaxWordsPerValue) * lanes;
  const std::uint8_t* const stop = c.base + end;
  const auto step = static_cast<std::size_t>(lanes);
  const std::size_t full = count - count % step;  // symbols in whole groups
  const int rest = static_cast<int>(count - full);
  std::size_t j = 0;
  for (; j < full && stop - p >= group_bytes; j += step) group(p, c, j, lanes);
  if (j == full && rest > 0 && stop - p >= group_bytes) {
    group(p, c, j, rest);
    j = count;
  }
  if (j < count) {
    // Fewer than group_bytes left: continue in a copy with group_bytes of zero padding.
    std::uint8_t tail[4 * kMaxWordsPerValue * kMaxLanes];
    const auto left = static_cast<std::size_t>(stop - p);
    std::memcpy(tail, p, left);
    std::memset(tail + left, 0, sizeof tail - left);
    const DecodeContext padded{c.tables, c.precision, tail, static_cast<std::size_t>(p - c.base), end};
    const std::uint8_t* q = tail;
    auto check = [&] {
      if (q > tail + left) throw_corrupt("rANS substream ends before its last word", padded, tail + left);
    };
    for (; j < full; j += step) {
      group(q, padded, j, lanes);
      check();
    }
    if (rest > 0) {
      group(q, padded, j, rest);
      check();
    }
    p = stop - (tail + left - q);
  }
  if (p != stop) throw_corrupt("rANS substream has unused words", c, p);
  std::uint32_t mismatch = 0;
  for_lanes<kLanes>(lanes, [&](int l) CODEC_RANS_LAMBDA_INLINE { mismatch |= x[l] ^ kStateLow; });
  if (mismatch != 0) throw_corrupt("rANS substream final state mismatch", c, c.base + begin);
}

// Instantiates the lane counts worth a fixed-size version; others share one.
template <int kPrecision, typename Bucket>
void decode_with(const DecodeContext& c, std::size_t begin, std::size_t end,
                 const std::int32_t* indexes, std::size_t count, int lanes, std::int32_t* out) {
  switch (lanes) {
    case 4: decode_lanes<4, kPrecision, Bucket>(c, begin, end, indexes, count, lanes, out); break;
    case 8: decode_lanes<8, kPrecision, Bucket>(c, begin, end, indexes, count, lanes, out); break;
    default: decode_lanes<0, kPrecision, Bucket>(c, begin, end, indexes, count, lanes, out); break;
  }
}

template <typename Bucket>
void decode_with_buckets(const DecodeContext& c, std::size_t begin, std::size_t end,
                         const std::int32_t* indexes, std::size_t count, int lanes,
                         std::int32_t* out) {
  // The default precision gets its own instantiation; the others share one.
  if (c.precision == 16) {
    decode_with<16, Bucket>(c, begin, end, indexes, count, lanes, out);
  } else {
    decode_with<0, Bucket>(c, begin, end, indexes, count, lanes, out);
  }
}

}  // namespace

void decode_substream(const RansTables& tables, const std::uint8_t* payload, std::size_t begin,
                      std::size_t end, const std::int32_t* indexes, std::size_t count, int lanes,
                      std::int32_t* out) {
  const DecodeContext c{tables.decode_tables(), static_cast<std::uint32_t>(tables.precision()),
                        payload, 0, end};
  if (tables.narrow_lookup()) {
    decode_with_buckets<std::uint8_t>(c, begin, end, indexes, count, lanes, out);
  } else {
    decode_with_buckets<std::uint16_t>(c, begin, end, indexes, count, lanes, out);
  }
}

}  // namespace codec::rans
