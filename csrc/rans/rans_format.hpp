// The payload framing around the substreams: a 4-byte fixed header, then
// LEB128 varints for the symbol count, the substream size and each
// substream's byte length.
//
// Parsing validates everything against the bytes actually present before
// anything proportional to a value read from the stream is allocated, so a
// damaged count cannot turn into a huge allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace codec::rans {

inline constexpr std::uint8_t kLayoutVersion = 1;
inline constexpr std::size_t kFixedHeaderBytes = 4;
inline constexpr int kMaxLanes = 32;
inline constexpr std::size_t kMaxVarintBytes = 10;

// Appends value as unsigned LEB128.
void put_varint(std::vector<std::uint8_t>& out, std::uint64_t value);

// Reads a canonical LEB128 varint at data[pos] (at most 10 bytes, at most
// 2^64 - 1, no redundant trailing zero group) and advances pos. Throws
// CorruptStream with the varint's offset.
std::uint64_t get_varint(const std::uint8_t* data, std::size_t size, std::size_t& pos);

// Number of substreams for n symbols in groups of substream_size (>= 1).
inline std::uint64_t substream_count(std::uint64_t n, std::uint64_t substream_size) {
  return n / substream_size + (n % substream_size != 0 ? 1 : 0);
}

struct PayloadLayout {
  int lanes = 0;
  std::uint64_t substream_size = 0;
  std::vector<std::size_t> bounds;  // substream k spans payload bytes [bounds[k], bounds[k+1])
};

// Validates the framing of a whole payload for a caller expecting
// expected_symbols symbols coded at the given precision.
PayloadLayout parse_layout(const std::uint8_t* data, std::size_t size,
                           std::uint64_t expected_symbols, int precision);

// The same for a payload of size bytes of which only the first available
// are at data (a payload in device memory, whose header was copied over):
// enough when available covers 24 + 10 * (substream count) bytes or the
// whole payload, and then the result and errors are those of the above.
PayloadLayout parse_layout(const std::uint8_t* data, std::size_t available, std::size_t size,
                           std::uint64_t expected_symbols, int precision);

}  // namespace codec::rans
