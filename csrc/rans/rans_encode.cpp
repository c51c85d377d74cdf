// Substream encoder. Symbols are pushed in reverse (rANS is LIFO), so the
// words come out in reverse decode order and are flipped when written.

#include "rans/rans_format.hpp"
#include "rans/rans_lane.hpp"
#include "rans/rans_substream.hpp"

namespace codec::rans {
namespace {

struct EncodeContext {
  const EncodeTable* tables;
  std::uint32_t precision;
};

struct LaneCursor {
  std::uint32_t x;
  std::uint16_t* out;
};

// Escape symbol plus bypass groups; returned by value so that the hot loop's
// lane states never have their address taken.
CODEC_RANS_COLD LaneCursor encode_escape(LaneCursor lane, std::int64_t s, const EncodeTable& ti,
                                         const EncodeContext& c) {
  const std::uint64_t w = s >= ti.num_regular
                              ? 2 * static_cast<std::uint64_t>(s - ti.num_regular)
                              : 2 * static_cast<std::uint64_t>(-s - 1) + 1;
  int groups = 1;
  while (groups < kMaxEscapeGroups && (w >> (4 * groups)) != 0) ++groups;
  // Reverse of decode order: high group first, then the group count, then the escape symbol.
  for (int g = groups - 1; g >= 0; --g) {
    encode_nibble(lane.x, static_cast<std::uint32_t>(w >> (4 * g)) & 15u, lane.out);
  }
  encode_nibble(lane.x, static_cast<std::uint32_t>(groups - 1), lane.out);
  encode_symbol(lane.x, ti.symbols[ti.num_regular], c.precision, lane.out);
  return lane;
}

CODEC_RANS_INLINE void encode_value(std::uint32_t& x, std::int32_t value, std::int32_t index,
                                    const EncodeContext& c, std::uint16_t*& out) {
  const EncodeTable& ti = c.tables[index];
  const std::int64_t s = std::int64_t{value} - ti.offset;
  if (static_cast<std::uint64_t>(s) < static_cast<std::uint64_t>(ti.num_regular)) {
    encode_symbol(x, ti.symbols[s], c.precision, out);
  } else {
    const LaneCursor lane = encode_escape(LaneCursor{x, out}, s, ti, c);
    x = lane.x;
    out = lane.out;
  }
}

// kLanes > 0 fixes the lane count at compile time so that the states stay in
// registers; kLanes == 0 handles any count.
template <int kLanes>
void encode_lanes(const EncodeContext& c, const std::int32_t* values, const std::int32_t* indexes,
                  std::size_t count, int runtime_lanes, WordSink& sink, std::uint32_t* states) {
  const int lanes = kLanes > 0 ? kLanes : runtime_lanes;
  const std::size_t group_words = kMaxWordsPerValue * static_cast<std::size_t>(lanes) + 1;
  std::uint32_t x[kLanes > 0 ? kLanes : kMaxLanes];
  for_lanes<kLanes>(lanes, [&](int l) CODEC_RANS_LAMBDA_INLINE { x[l] = kStateLow; });

  const std::size_t full = count - count % static_cast<std::size_t>(lanes);
  std::uint16_t* out = sink.reserve(group_words);
  const int tail = static_cast<int>(count - full);
  for_lanes_reversed<kLanes>(lanes, [&](int l) CODEC_RANS_LAMBDA_INLINE {
    if (l < tail) encode_value(x[l], values[full + l], indexes[full + l], c, out);
  });
  sink.commit(out);
  for (std::size_t base = full; base > 0;) {
    base -= static_cast<std::size_t>(lanes);
    out = sink.reserve(group_words);
    for_lanes_reversed<kLanes>(lanes, [&](int l) CODEC_RANS_LAMBDA_INLINE {
      encode_value(x[l], values[base + l], indexes[base + l], c, out);
    });
    sink.commit(out);
  }
  for_lanes<kLanes>(lanes, [&](int l) CODEC_RANS_LAMBDA_INLINE { states[l] = x[l]; });
}

}  // namespace

void encode_substream(const RansTables& tables, const std::int32_t* values,
                      const std::int32_t* indexes, std::size_t count, int lanes, WordSink& sink,
                      std::vector<std::uint8_t>& out) {
  const EncodeContext c{tables.encode_tables(), static_cast<std::uint32_t>(tables.precision())};
  std::uint32_t states[kMaxLanes];
  sink.clear();
  // The lane counts worth a fixed-size version; others share one.
  switch (lanes) {
    case 4: encode_lanes<4>(c, values, indexes, count, lanes, sink, states); break;
    case 8: encode_lanes<8>(c, values, indexes, count, lanes, sink, states); break;
    default: encode_lanes<0>(c, values, indexes, count, lanes, sink, states); break;
  }

  const std::size_t at = out.size();
  out.resize(at + 4 * static_cast<std::size_t>(lanes) + 2 * sink.size());
  std::uint8_t* p = out.data() + at;
  for (int l = 0; l < lanes; ++l) {
    for (int b = 0; b < 4; ++b) *p++ = static_cast<std::uint8_t>(states[l] >> (8 * b));
  }
  for (std::size_t i = sink.size(); i-- > 0;) {
    const std::uint16_t w = sink.data()[i];
    *p++ = static_cast<std::uint8_t>(w);
    *p++ = static_cast<std::uint8_t>(w >> 8);
  }
}

}  // namespace codec::rans
