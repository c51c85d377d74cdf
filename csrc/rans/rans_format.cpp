#include "rans/rans_format.hpp"

#include <string>

#include "rans/rans_errors.hpp"

namespace codec::rans {

void put_varint(std::vector<std::uint8_t>& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(value));
}

std::uint64_t get_varint(const std::uint8_t* data, std::size_t size, std::size_t& pos) {
  const std::size_t start = pos;
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < kMaxVarintBytes; ++i) {
    if (pos >= size) throw CorruptStream("truncated varint", start);
    const std::uint8_t byte = data[pos++];
    const std::uint64_t group = byte & 0x7F;
    if (i == kMaxVarintBytes - 1 && group > 1) throw CorruptStream("varint exceeds 64 bits", start);
    value |= group << (7 * i);
    if ((byte & 0x80) == 0) {
      if (byte == 0 && i > 0) throw CorruptStream("non-canonical varint", start);
      return value;
    }
  }
  throw CorruptStream("varint longer than 10 bytes", start);
}

PayloadLayout parse_layout(const std::uint8_t* data, std::size_t size,
                           std::uint64_t expected_symbols, int precision) {
  return parse_layout(data, size, size, expected_symbols, precision);
}

PayloadLayout parse_layout(const std::uint8_t* data, std::size_t available, std::size_t size,
                           std::uint64_t expected_symbols, int precision) {
  if (available > size) available = size;
  if (size < kFixedHeaderBytes) throw CorruptStream("rANS payload shorter than its header", size);
  if (data[0] != kLayoutVersion) {
    throw CorruptStream("unsupported rANS layout version " + std::to_string(data[0]), 0);
  }
  PayloadLayout layout;
  layout.lanes = data[1];
  if (layout.lanes < 1 || layout.lanes > kMaxLanes) {
    throw CorruptStream("rANS lane count " + std::to_string(layout.lanes) + " outside [1, 32]", 1);
  }
  if (data[2] != precision) {
    throw CorruptStream("rANS precision " + std::to_string(data[2]) +
                            " does not match the tables' precision " + std::to_string(precision), 2);
  }
  if (data[3] != 0) throw CorruptStream("reserved rANS header byte is not 0", 3);

  std::size_t pos = kFixedHeaderBytes;
  const std::size_t count_at = pos;
  const std::uint64_t n = get_varint(data, available, pos);
  if (n != expected_symbols) {
    throw CorruptStream("rANS payload holds " + std::to_string(n) + " symbols, expected " +
                            std::to_string(expected_symbols), count_at);
  }
  const std::size_t size_at = pos;
  layout.substream_size = get_varint(data, available, pos);
  if (layout.substream_size == 0) throw CorruptStream("rANS substream size is 0", size_at);

  // Each length takes at least one byte, which bounds the allocation below.
  const std::uint64_t count = substream_count(n, layout.substream_size);
  if (count > size - pos) throw CorruptStream("rANS substream count exceeds the payload", size_at);
  layout.bounds.resize(static_cast<std::size_t>(count) + 1);

  const std::size_t min_bytes = 4 * static_cast<std::size_t>(layout.lanes);
  std::size_t total = 0;
  for (std::size_t k = 0; k < count; ++k) {
    const std::size_t length_at = pos;
    const std::uint64_t length = get_varint(data, available, pos);
    if (length < min_bytes || (length - min_bytes) % 2 != 0) {
      throw CorruptStream("rANS substream " + std::to_string(k) + " has invalid length " +
                              std::to_string(length), length_at);
    }
    if (total > size - pos || length > size - pos - total) {
      throw CorruptStream("rANS substream lengths exceed the payload", length_at);
    }
    layout.bounds[k] = total;
    total += static_cast<std::size_t>(length);
  }
  if (total != size - pos) {
    throw CorruptStream("rANS substream lengths do not add up to the payload size", pos);
  }
  for (std::size_t k = 0; k < count; ++k) layout.bounds[k] += pos;
  layout.bounds[count] = size;
  return layout;
}

}  // namespace codec::rans
