// Public C++ API of the rANS entropy coder.
//
// encode() turns int32 values, each with the index of the table that codes
// it, into a self-delimiting payload (layout in rans_format.hpp and
// rans_substream.hpp); decode() inverts it given the same tables and
// indexes. Both split the work into independent substreams, so the thread
// count changes speed only, never the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "rans/rans_errors.hpp"
#include "rans/rans_tables.hpp"

namespace codec::rans {

struct EncodeOptions {
  int lanes = 4;                            // interleaved states per substream, 1..32
  std::uint64_t substream_size = 65536;     // symbols per substream, >= 1
  int threads = 1;                          // <= 0 means 1
};

// Throws UsageError for bad options or table indexes.
std::vector<std::uint8_t> encode(const RansTables& tables, const std::int32_t* values,
                                 const std::int32_t* indexes, std::size_t count,
                                 const EncodeOptions& options);

// Decodes count values into out. Throws UsageError for bad table indexes and
// CorruptStream (with a payload offset) for anything wrong with the data.
void decode(const RansTables& tables, const std::uint8_t* data, std::size_t size,
            const std::int32_t* indexes, std::size_t count, std::int32_t* out, int threads);

}  // namespace codec::rans
