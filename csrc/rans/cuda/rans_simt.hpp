// The rANS coder written for SIMT machines (CUDA warps), byte for byte the
// coder of csrc/rans: same block, substream and lane layout (bitstream/SPEC.md
// section 5), so a payload made by either decodes on the other.
//
// Work is laid out by warps of 32 threads. A warp codes 32 / W substreams at
// once, one per tile of W threads (W = the lane count rounded up to a power
// of two), and thread r of a tile owns lane r of its substream. Symbols are
// coded in rounds of L (one per lane); within a round the lanes share one
// word stream, so each thread finds its word by counting, with a ballot, the
// lanes before it that move a word. Escapes are rare: a round holding one
// codes its lanes one after the other, in lane order, as the CPU does.
//
// The bodies below are templates over a Warp that supplies lane(), ballot(),
// shfl() and atomic_min(). On a GPU (rans_cuda.cu) those are the warp
// intrinsics; on the host (rans_simt_emulator.cpp) a fiber-based emulator
// runs the very same code, which is how the CPU-only test suite checks this
// algorithm, including that every collective is reached by all 32 threads.
// Every warp-wide operation is therefore called under warp-uniform control
// flow; per-thread work sits inside plain ifs between them.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define CODEC_SIMT_FN __host__ __device__ __forceinline__
#else
#define CODEC_SIMT_FN inline
#endif

#if !defined(__CUDA_ARCH__) && defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif

namespace codec::rans::simt {

inline constexpr std::uint32_t kWarpSize = 32;
inline constexpr std::uint32_t kFullMask = 0xFFFFFFFFu;
inline constexpr std::uint32_t kStateLow = 1u << 16;        // lower state bound, initial state
inline constexpr std::uint32_t kNibbleStateMax = 1u << 28;  // x_max of a 4-bit bypass item
inline constexpr std::uint32_t kMaxEscapeGroups = 9;
// Most words one value can move: its symbol, the group count and 9 groups.
inline constexpr std::uint64_t kMaxWordsPerValue = 2 + kMaxEscapeGroups;
inline constexpr std::uint64_t kNone = ~std::uint64_t{0};
// Indexes one warp of the index check covers.
inline constexpr std::uint64_t kCheckPerWarp = 32 * 64;

// Why a substream failed to decode; the messages (rans_simt_driver.hpp) are
// the CPU decoder's, and so are the offsets.
enum Error : std::uint32_t {
  kOk = 0,
  kStateBelow,      // a stored lane state below 2^16
  kTooManyGroups,   // an escape with more than 9 groups
  kNotMinimal,      // an escape whose top group is 0
  kOutOfRange,      // an escape outside int32
  kOverread,        // the substream ends before its last word
  kUnusedWords,     // words left after the last symbol
  kStateMismatch,   // a final state other than 2^16
};

// Tables as flat arrays with 32-bit bases instead of pointers, so that they
// can be copied to a device as they are (see upload_tables).
struct DecodeTableRef {
  std::uint32_t cdf;     // base in TableView::cdf; the escape's end is stored as 0
  std::uint32_t lookup;  // base in TableView::lookup
  std::uint32_t shift;   // bucket of a slot = slot >> shift
  std::int32_t offset;   // value coded by symbol 0
};

struct EncodeTableRef {
  std::uint32_t symbols;     // base in TableView::symbols: N_t + 1 entries, the escape last
  std::int32_t num_regular;  // N_t
  std::int32_t offset;
  std::uint32_t reserved;
};

// The CPU coder's EncSymbol: x / freq is the high half of x * rcp.
struct EncSymbolRef {
  std::uint64_t rcp;
  std::uint32_t freq;
  std::uint32_t bias;
};

struct TableView {
  const DecodeTableRef* decode;
  const EncodeTableRef* encode;
  const EncSymbolRef* symbols;
  const std::uint16_t* cdf;
  const void* lookup;  // uint8_t or uint16_t buckets, as on the CPU
  std::uint32_t num_tables;
  std::uint32_t precision;
};

// How the symbols of a block are cut into substreams and tiles.
struct Tiling {
  std::uint64_t count;           // n
  std::uint64_t substream_size;  // S
  std::uint64_t substreams;      // K = ceil(n / S)
  std::uint32_t lanes;           // L
  std::uint32_t width;           // W, a power of two, L <= W <= 32

  CODEC_SIMT_FN std::uint32_t tiles_per_warp() const { return kWarpSize / width; }
  CODEC_SIMT_FN std::uint64_t warps() const {
    return (substreams + tiles_per_warp() - 1) / tiles_per_warp();
  }
  CODEC_SIMT_FN std::uint64_t first_symbol(std::uint64_t k) const { return k * substream_size; }
  CODEC_SIMT_FN std::uint64_t symbols_in(std::uint64_t k) const {
    const std::uint64_t left = count - first_symbol(k);
    return left < substream_size ? left : substream_size;
  }
};

CODEC_SIMT_FN std::uint32_t tile_width(std::uint32_t lanes) {
  std::uint32_t w = 1;
  while (w < lanes) w <<= 1;
  return w;
}

// One thread's place: its tile (substream k) and its rank r in the tile.
struct Seat {
  std::uint64_t k;
  std::uint32_t rank;
  std::uint32_t shift;  // position of the tile's bits in a warp ballot
  std::uint32_t mask;   // W low bits
  bool valid;           // k < K

  CODEC_SIMT_FN std::uint32_t bits(std::uint32_t ballot) const { return (ballot >> shift) & mask; }
};

CODEC_SIMT_FN Seat seat_of(const Tiling& g, std::uint64_t warp, std::uint32_t lane) {
  Seat s;
  const std::uint32_t tile = lane / g.width;
  s.rank = lane % g.width;
  s.shift = tile * g.width;
  s.mask = g.width == kWarpSize ? kFullMask : (1u << g.width) - 1u;
  s.k = warp * g.tiles_per_warp() + tile;
  s.valid = s.k < g.substreams;
  return s;
}

CODEC_SIMT_FN std::uint32_t popcount(std::uint32_t v) {
#if defined(__CUDA_ARCH__)
  return static_cast<std::uint32_t>(__popc(v));
#elif defined(_MSC_VER) && !defined(__clang__)
  return __popcnt(v);
#else
  return static_cast<std::uint32_t>(__builtin_popcount(v));
#endif
}

// High 64 bits of x * rcp; below 2^32 because x is.
CODEC_SIMT_FN std::uint32_t mul_hi(std::uint32_t x, std::uint64_t rcp) {
#if defined(__CUDA_ARCH__)
  return static_cast<std::uint32_t>(__umul64hi(static_cast<std::uint64_t>(x), rcp));
#elif defined(_MSC_VER) && !defined(__clang__)
  return static_cast<std::uint32_t>(__umulh(x, rcp));
#else
  return static_cast<std::uint32_t>((static_cast<unsigned __int128>(x) * rcp) >> 64);
#endif
}

CODEC_SIMT_FN std::uint64_t min64(std::uint64_t a, std::uint64_t b) { return a < b ? a : b; }

// Little-endian loads at any byte alignment (substreams start anywhere).
CODEC_SIMT_FN std::uint32_t load_u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

// The word at byte pos, or 0 past the substream's end: exactly what the CPU
// decoder's zero padding gives, so reading too far is detected the same way
// (after the round) and reported at the same offset.
CODEC_SIMT_FN std::uint32_t read_word(const std::uint8_t* payload, std::uint64_t pos, std::uint64_t end) {
  if (pos >= end) return 0;
  return static_cast<std::uint32_t>(payload[pos]) | static_cast<std::uint32_t>(payload[pos + 1]) << 8;
}

// ---------------------------------------------------------------------------
// Decoding

CODEC_SIMT_FN void renorm(std::uint32_t& x, std::uint64_t& pos, const std::uint8_t* payload,
                          std::uint64_t end) {
  if (x < kStateLow) {
    x = (x << 16) | read_word(payload, pos, end);
    pos += 2;
  }
}

CODEC_SIMT_FN std::uint32_t decode_nibble(std::uint32_t& x, std::uint64_t& pos,
                                          const std::uint8_t* payload, std::uint64_t end) {
  const std::uint32_t nibble = x & 15u;
  x >>= 4;
  renorm(x, pos, payload, end);
  return nibble;
}

// Bypass part of an escaped value (the escape symbol is decoded and its word
// read). Returns kOk and the value, or an Error with at = the word position
// where the escape's bypass part starts (the CPU decoder's offset).
CODEC_SIMT_FN std::uint32_t decode_escape(std::uint32_t& x, std::uint64_t& pos,
                                          const std::uint8_t* payload, std::uint64_t end,
                                          std::int32_t offset, std::uint32_t num_regular,
                                          std::int32_t& value, std::uint64_t& at) {
  at = pos;
  const std::uint32_t groups = decode_nibble(x, pos, payload, end) + 1;
  if (groups > kMaxEscapeGroups) return kTooManyGroups;
  std::uint64_t w = 0;
  std::uint32_t top = 0;
  for (std::uint32_t g = 0; g < groups; ++g) {
    top = decode_nibble(x, pos, payload, end);
    w |= static_cast<std::uint64_t>(top) << (4 * g);
  }
  if (groups > 1 && top == 0) return kNotMinimal;
  const auto d = static_cast<std::int64_t>(w >> 1);
  const std::int64_t v = (w & 1) != 0 ? static_cast<std::int64_t>(offset) - 1 - d
                                      : static_cast<std::int64_t>(offset) + num_regular + d;
  if (v < -2147483648LL || v > 2147483647LL) return kOutOfRange;
  value = static_cast<std::int32_t>(v);
  return kOk;
}

struct DecodeIo {
  const std::uint8_t* payload;   // the whole block
  const std::uint64_t* bounds;   // substream k spans payload[bounds[k], bounds[k + 1])
  const std::int32_t* indexes;   // checked before the launch; bad ones read table 0
  std::int32_t* out;
  std::uint32_t* error_code;     // per substream, written only when it fails
  std::uint64_t* error_offset;   // per substream, written only when it fails
  std::uint64_t* first_error;    // lowest failing substream (atomic min), kNone if none
};

// The table of the symbol that thread r codes in round q of substream
// [first, first + m), or table 0's when it codes none there. It depends on
// no state, so the decoder loads it a round ahead, off the critical path.
CODEC_SIMT_FN DecodeTableRef round_table(const TableView& tables, const std::int32_t* indexes,
                                         std::uint64_t first, std::uint64_t m, std::uint32_t lanes,
                                         std::uint32_t r, std::uint64_t q) {
  const std::uint64_t j = q * lanes + r;
  if (r >= lanes || j >= m) return DecodeTableRef{0, 0, 0, 0};
  auto index = static_cast<std::uint32_t>(indexes[first + j]);
  if (index >= tables.num_tables) index = 0;  // checked before the launch; stay in bounds anyway
  return tables.decode[index];
}

// kPrecision > 0 fixes P at compile time; 0 reads it from the tables.
// Bucket is the lookup entry type (RansTables::narrow_lookup()).
template <int kPrecision, typename Bucket>
struct DecodeBody {
  TableView tables;
  Tiling tiling;
  DecodeIo io;

  template <class Warp>
  CODEC_SIMT_FN void operator()(Warp& warp, std::uint64_t warp_id) const {
    const Tiling& g = tiling;
    const Seat seat = seat_of(g, warp_id, warp.lane());
    const std::uint64_t k0 = warp_id * g.tiles_per_warp();
    if (k0 >= g.substreams) return;  // the whole warp: k0 is warp-uniform
    // The warp's first substream is its longest, so its rounds cover every tile.
    const std::uint64_t rounds = (g.symbols_in(k0) + g.lanes - 1) / g.lanes;
    const std::uint32_t precision = kPrecision > 0 ? kPrecision : tables.precision;
    const std::uint32_t total = 1u << precision;
    const std::uint32_t r = seat.rank;

    const std::uint64_t first = seat.valid ? g.first_symbol(seat.k) : 0;
    const std::uint64_t m = seat.valid ? g.symbols_in(seat.k) : 0;
    const std::uint64_t begin = seat.valid ? io.bounds[seat.k] : 0;
    const std::uint64_t end = seat.valid ? io.bounds[seat.k + 1] : 0;
    const bool owns_lane = seat.valid && r < g.lanes;

    // Tile-uniform: the next word's byte position, and the first error.
    std::uint64_t pos = begin + 4 * static_cast<std::uint64_t>(g.lanes);
    std::uint32_t error = kOk;
    std::uint64_t error_at = 0;

    std::uint32_t x = owns_lane ? load_u32(io.payload + begin + 4 * r) : kStateLow;
    if (seat.bits(warp.ballot(owns_lane && x < kStateLow)) != 0) {
      error = kStateBelow;
      error_at = begin;
    }

    DecodeTableRef next = round_table(tables, io.indexes, first, m, g.lanes, r, 0);
    for (std::uint64_t q = 0; q < rounds; ++q) {
      const std::uint64_t j0 = q * g.lanes;
      const bool live = seat.valid && error == kOk && j0 < m;
      const std::uint64_t here = live ? min64(g.lanes, m - j0) : 0;
      const bool active = r < here;
      const std::uint64_t j = first + j0 + r;
      const DecodeTableRef t = next;
      if (q + 1 < rounds) next = round_table(tables, io.indexes, first, m, g.lanes, r, q + 1);

      // The symbol itself needs no word: every lane does it at once.
      std::uint32_t s = 0;
      std::int32_t offset = 0;
      bool escape = false;
      if (active) {
        const std::uint16_t* cdf = tables.cdf + t.cdf;
        const std::uint32_t slot = x & (total - 1);
        s = static_cast<const Bucket*>(tables.lookup)[t.lookup + (slot >> t.shift)];
        std::uint32_t start = cdf[s];
        std::uint32_t stop = cdf[s + 1];
        if (stop <= slot) {
          while (stop != 0 && stop <= slot) {
            ++s;
            start = stop;
            stop = cdf[s + 1];
          }
          if (stop == 0) {
            escape = true;
            stop = total;
          }
        }
        x = (stop - start) * (x >> precision) + slot - start;
        offset = t.offset;
      }

      if (warp.ballot(escape) == 0) {
        // Words in lane order: lane r's is after those of the lanes below it.
        const bool need = active && x < kStateLow;
        const std::uint32_t movers = seat.bits(warp.ballot(need));
        if (need) {
          const std::uint64_t at = pos + 2 * popcount(movers & ((1u << r) - 1u));
          x = (x << 16) | read_word(io.payload, at, end);
        }
        pos += 2 * popcount(movers);
        if (active) io.out[j] = offset + static_cast<std::int32_t>(s);
      } else {
        // Somewhere in this warp a lane escapes: every tile codes its lanes
        // one by one, each passing the word position to the next.
        for (std::uint32_t l = 0; l < g.width; ++l) {
          if (active && r == l && error == kOk) {
            renorm(x, pos, io.payload, end);
            std::int32_t value = 0;
            if (escape) {
              std::uint64_t at = 0;
              error = decode_escape(x, pos, io.payload, end, offset, s, value, at);
              if (error != kOk) error_at = min64(at, end);
            } else {
              value = offset + static_cast<std::int32_t>(s);
            }
            if (error == kOk) io.out[j] = value;
          }
          const std::uint32_t from = seat.shift + l;
          pos = warp.shfl(pos, from);
          error = warp.shfl(error, from);
          error_at = warp.shfl(error_at, from);
        }
      }
      if (live && error == kOk && pos > end) {
        error = kOverread;
        error_at = end;
      }
    }

    if (seat.valid && error == kOk && pos != end) {
      error = kUnusedWords;
      error_at = pos;
    }
    const std::uint32_t mismatch = seat.bits(warp.ballot(owns_lane && x != kStateLow));
    if (seat.valid && error == kOk && mismatch != 0) {
      error = kStateMismatch;
      error_at = begin;
    }
    if (seat.valid && error != kOk && r == 0) {
      io.error_code[seat.k] = error;
      io.error_offset[seat.k] = error_at;
      warp.atomic_min(io.first_error, seat.k);
    }
  }
};

// ---------------------------------------------------------------------------
// Encoding

// Encodes one item into x with the CPU coder's arithmetic; emit(word) is
// called for the word it moves, if any.
template <class Emit>
CODEC_SIMT_FN void encode_symbol(std::uint32_t& x, const EncSymbolRef& e, std::uint32_t precision,
                                 Emit& emit) {
  const std::uint64_t x_max = static_cast<std::uint64_t>(e.freq) << (32 - precision);
  if (x >= x_max) {
    emit(x & 0xFFFFu);
    x >>= 16;
  }
  x += e.bias + mul_hi(x, e.rcp) * ((1u << precision) - e.freq);
}

template <class Emit>
CODEC_SIMT_FN void encode_nibble(std::uint32_t& x, std::uint32_t nibble, Emit& emit) {
  if (x >= kNibbleStateMax) {
    emit(x & 0xFFFFu);
    x >>= 16;
  }
  x = (x << 4) | nibble;
}

// A value of table t, s = value - offset; escapes as the CPU encoder: the
// groups high first, the group count, then the escape symbol.
template <class Emit>
CODEC_SIMT_FN void encode_value(std::uint32_t& x, std::int64_t s, const EncodeTableRef& t,
                                const TableView& tables, std::uint32_t precision, Emit& emit) {
  if (static_cast<std::uint64_t>(s) < static_cast<std::uint64_t>(t.num_regular)) {
    encode_symbol(x, tables.symbols[t.symbols + static_cast<std::uint32_t>(s)], precision, emit);
    return;
  }
  const std::uint64_t w = s >= t.num_regular ? 2 * static_cast<std::uint64_t>(s - t.num_regular)
                                             : 2 * static_cast<std::uint64_t>(-s - 1) + 1;
  std::uint32_t groups = 1;
  while (groups < kMaxEscapeGroups && (w >> (4 * groups)) != 0) ++groups;
  for (std::uint32_t g = groups; g-- > 0;) {
    encode_nibble(x, static_cast<std::uint32_t>(w >> (4 * g)) & 15u, emit);
  }
  encode_nibble(x, groups - 1, emit);
  encode_symbol(x, tables.symbols[t.symbols + static_cast<std::uint32_t>(t.num_regular)], precision,
                emit);
}

struct CountWords {
  std::uint32_t words = 0;
  CODEC_SIMT_FN void operator()(std::uint32_t) { ++words; }
};

// Stores words in emission order (the reverse of the decoding order) into a
// substream's scratch region, dropping those beyond its capacity: the
// driver sees the true count and codes again with room for the worst case.
struct StoreWords {
  std::uint16_t* words;
  std::uint64_t capacity;
  std::uint64_t at;
  CODEC_SIMT_FN void operator()(std::uint32_t word) {
    if (at < capacity) words[at] = static_cast<std::uint16_t>(word);
    ++at;
  }
};

struct EncodeIo {
  const std::int32_t* values;
  const std::int32_t* indexes;  // checked before the launch; bad ones read table 0
  std::uint16_t* scratch;       // capacity words per substream, in emission order
  std::uint64_t capacity;
  std::uint64_t* word_counts;   // per substream
  std::uint32_t* states;        // L final states per substream
};

// What thread r codes in round q of substream [first, first + m): its
// table, value - offset, and the symbol's coding entry unless it escapes.
// None of it depends on the state, so the encoder loads it a round ahead.
struct EncodeItem {
  EncodeTableRef table;
  EncSymbolRef symbol;
  std::int64_t s;
  bool active;
  bool escape;
};

CODEC_SIMT_FN EncodeItem round_item(const TableView& tables, const std::int32_t* values,
                                    const std::int32_t* indexes, std::uint64_t first, std::uint64_t m,
                                    std::uint32_t lanes, std::uint32_t r, std::uint64_t q) {
  EncodeItem item{EncodeTableRef{0, 0, 0, 0}, EncSymbolRef{0, 1, 0}, 0, false, false};
  const std::uint64_t j = q * lanes + r;
  if (r >= lanes || j >= m) return item;
  auto index = static_cast<std::uint32_t>(indexes[first + j]);
  if (index >= tables.num_tables) index = 0;  // checked before the launch; stay in bounds anyway
  item.table = tables.encode[index];
  item.s = static_cast<std::int64_t>(values[first + j]) - item.table.offset;
  item.active = true;
  item.escape = static_cast<std::uint64_t>(item.s) >= static_cast<std::uint64_t>(item.table.num_regular);
  if (!item.escape) item.symbol = tables.symbols[item.table.symbols + static_cast<std::uint32_t>(item.s)];
  return item;
}

struct EncodeBody {
  TableView tables;
  Tiling tiling;
  EncodeIo io;

  template <class Warp>
  CODEC_SIMT_FN void operator()(Warp& warp, std::uint64_t warp_id) const {
    const Tiling& g = tiling;
    const Seat seat = seat_of(g, warp_id, warp.lane());
    const std::uint64_t k0 = warp_id * g.tiles_per_warp();
    if (k0 >= g.substreams) return;  // warp-uniform
    const std::uint64_t rounds = (g.symbols_in(k0) + g.lanes - 1) / g.lanes;
    const std::uint32_t precision = tables.precision;
    const std::uint32_t r = seat.rank;
    const std::uint64_t first = seat.valid ? g.first_symbol(seat.k) : 0;
    const std::uint64_t m = seat.valid ? g.symbols_in(seat.k) : 0;
    std::uint16_t* words = io.scratch + (seat.valid ? seat.k * io.capacity : 0);

    std::uint32_t x = kStateLow;
    std::uint64_t emitted = 0;  // tile-uniform
    // Last symbol first (rANS is last in, first out); within a round, the
    // highest lane first, so the words come out in reverse decoding order.
    EncodeItem next = round_item(tables, io.values, io.indexes, first, m, g.lanes, r, rounds - 1);
    for (std::uint64_t q = rounds; q-- > 0;) {
      const EncodeItem item = next;
      if (q > 0) next = round_item(tables, io.values, io.indexes, first, m, g.lanes, r, q - 1);
      const bool active = item.active;
      const bool escape = item.escape;
      const std::int64_t s = item.s;
      const EncodeTableRef& t = item.table;

      if (warp.ballot(escape) == 0) {
        const EncSymbolRef& e = item.symbol;
        const bool need = active && x >= (static_cast<std::uint64_t>(e.freq) << (32 - precision));
        const std::uint32_t movers = seat.bits(warp.ballot(need));
        if (need) {
          // Lanes above r move their words first.
          const std::uint64_t at = emitted + popcount(static_cast<std::uint32_t>(
                                                 (static_cast<std::uint64_t>(movers) >> r) >> 1));
          if (at < io.capacity) words[at] = static_cast<std::uint16_t>(x & 0xFFFFu);
          x >>= 16;
        }
        if (active) x += e.bias + mul_hi(x, e.rcp) * ((1u << precision) - e.freq);
        emitted += popcount(movers);
      } else {
        // Count each lane's words on a copy of its state, place them after
        // those of the lanes above (a suffix sum over the tile), then code.
        CountWords counter;
        if (active) {
          std::uint32_t copy = x;
          encode_value(copy, s, t, tables, precision, counter);
        }
        std::uint32_t above_and_own = counter.words;
        for (std::uint32_t d = 1; d < g.width; d <<= 1) {
          const bool inside = r + d < g.width;
          const std::uint32_t other = warp.shfl(above_and_own, seat.shift + (inside ? r + d : r));
          if (inside) above_and_own += other;
        }
        const std::uint32_t round_words = warp.shfl(above_and_own, seat.shift);
        if (active) {
          StoreWords store{words, io.capacity, emitted + above_and_own - counter.words};
          encode_value(x, s, t, tables, precision, store);
        }
        emitted += round_words;
      }
    }
    if (seat.valid && r < g.lanes) io.states[seat.k * g.lanes + r] = x;
    if (seat.valid && r == 0) io.word_counts[seat.k] = emitted;
  }
};

// Writes each substream (one warp each) at its place in the payload: the L
// final states, then the words in decoding order.
struct AssembleIo {
  const std::uint16_t* scratch;
  std::uint64_t capacity;
  const std::uint64_t* word_counts;
  const std::uint32_t* states;
  const std::uint64_t* starts;  // byte offset of each substream in out
  std::uint8_t* out;
};

struct AssembleBody {
  Tiling tiling;
  AssembleIo io;

  template <class Warp>
  CODEC_SIMT_FN void operator()(Warp& warp, std::uint64_t k) const {
    if (k >= tiling.substreams) return;
    const std::uint32_t t = warp.lane();
    std::uint8_t* out = io.out + io.starts[k];
    if (t < tiling.lanes) {
      const std::uint32_t state = io.states[k * tiling.lanes + t];
      for (std::uint32_t b = 0; b < 4; ++b) out[4 * t + b] = static_cast<std::uint8_t>(state >> (8 * b));
    }
    out += 4 * static_cast<std::uint64_t>(tiling.lanes);
    const std::uint64_t n = io.word_counts[k];
    const std::uint16_t* words = io.scratch + k * io.capacity;
    for (std::uint64_t i = t; i < n; i += kWarpSize) {
      const std::uint16_t w = words[n - 1 - i];
      out[2 * i] = static_cast<std::uint8_t>(w);
      out[2 * i + 1] = static_cast<std::uint8_t>(w >> 8);
    }
  }
};

// Finds the lowest position whose table index is outside [0, num_tables).
struct IndexCheckBody {
  const std::int32_t* indexes;
  std::uint64_t count;
  std::uint32_t num_tables;
  std::uint64_t* first_bad;  // atomic min, kNone if none

  template <class Warp>
  CODEC_SIMT_FN void operator()(Warp& warp, std::uint64_t warp_id) const {
    const std::uint64_t begin = warp_id * kCheckPerWarp;
    const std::uint64_t end = min64(begin + kCheckPerWarp, count);
    for (std::uint64_t i = begin + warp.lane(); i < end; i += kWarpSize) {
      if (static_cast<std::uint32_t>(indexes[i]) >= num_tables) {
        warp.atomic_min(first_bad, i);
        return;
      }
    }
  }
};

}  // namespace codec::rans::simt
