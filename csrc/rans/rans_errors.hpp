// Exceptions of the rANS core.
//
// Two kinds only, because callers react to exactly two situations: the caller
// handed us something invalid (tables, indexes, options) -> TableError/
// std::invalid_argument, or the bytes being decoded are not a valid stream ->
// CorruptStream, which carries the payload byte offset so that the container
// layer can point at the damage.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace codec::rans {

// Invalid tables or arguments supplied by the caller.
class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A payload that fails validation; offset is relative to the payload start.
class CorruptStream : public std::runtime_error {
 public:
  CorruptStream(const std::string& message, std::size_t offset)
      : std::runtime_error(message), offset_(offset) {}
  std::size_t offset() const noexcept { return offset_; }

 private:
  std::size_t offset_;
};

}  // namespace codec::rans
