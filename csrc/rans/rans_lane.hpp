// Single-lane rANS primitives shared by the substream encoder and decoder.
//
// The state x of a lane lives in [2^16, 2^32); renormalisation moves one
// 16-bit word at a time, and because P <= 16 one word always suffices, so
// every "while" of the textbook coder is an "if" here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "rans/rans_tables.hpp"

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#define CODEC_RANS_COLD __declspec(noinline)
#define CODEC_RANS_INLINE __forceinline
#define CODEC_RANS_LAMBDA_INLINE [[msvc::forceinline]]
#else
#define CODEC_RANS_COLD __attribute__((noinline, cold))
#define CODEC_RANS_INLINE inline __attribute__((always_inline))
#define CODEC_RANS_LAMBDA_INLINE __attribute__((always_inline))
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CODEC_RANS_UNLIKELY(condition) __builtin_expect(!!(condition), 0)
#else
#define CODEC_RANS_UNLIKELY(condition) (condition)
#endif

namespace codec::rans {

inline constexpr std::uint32_t kStateLow = 1u << 16;        // lower state bound, initial state
inline constexpr std::uint32_t kBypassStateMax = 1u << 28;  // x_max of a nibble: 1 << (32 - 4)
inline constexpr int kMaxEscapeGroups = 9;                  // 4-bit groups of a word below 2^34
// Most words one value can move: its symbol, the group count and 9 groups.
inline constexpr std::size_t kMaxWordsPerValue = 2 + kMaxEscapeGroups;

// High 64 bits of x * rcp; below 2^32 because x is.
inline std::uint32_t mul_hi(std::uint32_t x, std::uint64_t rcp) {
#if defined(_MSC_VER) && !defined(__clang__)
  return static_cast<std::uint32_t>(__umulh(x, rcp));
#else
  return static_cast<std::uint32_t>((static_cast<unsigned __int128>(x) * rcp) >> 64);
#endif
}

// Encodes one symbol into x, emitting at most one word at out. The word slot
// at out is written unconditionally and kept only when needed, and the shift
// is masked, which avoids a hard-to-predict branch (compilers turn a ternary
// into one); callers leave room for one extra word.
CODEC_RANS_INLINE void encode_symbol(std::uint32_t& x, const EncSymbol& e, std::uint32_t precision,
                                     std::uint16_t*& out) {
  const std::uint64_t x_max = std::uint64_t{e.freq} << (32 - precision);
  const std::uint32_t mask = 0u - static_cast<std::uint32_t>(x >= x_max);
  *out = static_cast<std::uint16_t>(x);
  out += mask & 1;
  x >>= mask & 16;
  x += e.bias + mul_hi(x, e.rcp) * ((1u << precision) - e.freq);
}

// Encodes a 4-bit bypass value: rANS with frequency 1 at precision 4.
CODEC_RANS_INLINE void encode_nibble(std::uint32_t& x, std::uint32_t nibble, std::uint16_t*& out) {
  if (x >= kBypassStateMax) {
    *out++ = static_cast<std::uint16_t>(x);
    x >>= 16;
  }
  x = (x << 4) | nibble;
}

namespace detail {
template <typename F, std::size_t... L>
CODEC_RANS_INLINE void unrolled(F& f, std::index_sequence<L...>) {
  (f(static_cast<int>(L)), ...);
}
}  // namespace detail

// Calls f(0), ..., f(lanes - 1) in order. With a compile-time kLanes the
// calls are unrolled, so an array of lane states indexed by l stays in
// registers; kLanes == 0 takes the count at run time.
template <int kLanes, typename F>
CODEC_RANS_INLINE void for_lanes(int lanes, F&& f) {
  if constexpr (kLanes > 0) {
    detail::unrolled(f, std::make_index_sequence<kLanes>{});
  } else {
    for (int l = 0; l < lanes; ++l) f(l);
  }
}

// As for_lanes, from lanes - 1 down to 0 (the encoder's order).
template <int kLanes, typename F>
CODEC_RANS_INLINE void for_lanes_reversed(int lanes, F&& f) {
  for_lanes<kLanes>(lanes, [&](int l) CODEC_RANS_LAMBDA_INLINE { f(lanes - 1 - l); });
}

inline std::uint32_t load_u16(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8;
}

inline std::uint32_t load_u32(const std::uint8_t* p) {
  return load_u16(p) | load_u16(p + 2) << 16;
}

}  // namespace codec::rans
