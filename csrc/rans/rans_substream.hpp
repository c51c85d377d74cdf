// Coding of one substream: L interleaved lanes over consecutive symbols,
// symbol j in lane j % L, all lanes sharing one word stream.
//
// Substream layout: L final encoder states (uint32 LE, lane 0 first), then
// the 16-bit words (LE) in the order the decoder reads them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "rans/rans_tables.hpp"

namespace codec::rans {

// Word buffer of one encoding thread, reused across its substreams so that
// steady-state encoding does not allocate.
class WordSink {
 public:
  void clear() { size_ = 0; }
  // Returns a write cursor with room for at least max_words words.
  std::uint16_t* reserve(std::size_t max_words) {
    if (words_.size() - size_ < max_words) words_.resize(2 * words_.size() + max_words);
    return words_.data() + size_;
  }
  void commit(const std::uint16_t* cursor) { size_ = static_cast<std::size_t>(cursor - words_.data()); }
  const std::uint16_t* data() const { return words_.data(); }
  std::size_t size() const { return size_; }

 private:
  std::vector<std::uint16_t> words_;
  std::size_t size_ = 0;
};

// Appends the substream coding values[0..count) to out. Table indexes must
// already be validated; lanes in [1, 32].
void encode_substream(const RansTables& tables, const std::int32_t* values,
                      const std::int32_t* indexes, std::size_t count, int lanes, WordSink& sink,
                      std::vector<std::uint8_t>& out);

// Decodes the substream in payload[begin, end) into out[0..count). Throws
// CorruptStream with a payload offset. Table indexes must already be validated.
void decode_substream(const RansTables& tables, const std::uint8_t* payload, std::size_t begin,
                      std::size_t end, const std::int32_t* indexes, std::size_t count, int lanes,
                      std::int32_t* out);

}  // namespace codec::rans
