// Host side of the SIMT coder: copies tables to the device, validates what
// the CPU coder validates (with the same messages and offsets), launches the
// bodies of rans_simt.hpp and frames the payload.
//
// Written once as templates over a Backend, which is either the CUDA runtime
// (rans_cuda.cu) or the host warp emulator (rans_simt_emulator.cpp):
//
//   Buffer                  owns device memory: data()
//   alloc(bytes)            scratch memory for one call
//   alloc_result(bytes)     memory handed to the caller
//   to_device(dst, src, n)  host -> device copy
//   to_host(dst, src, n)    device -> host copy; waits for queued work
//   launch(warps, body)     runs body(warp, id) for id in [0, warps)
//   finish()                waits for queued work
//
// Only the framing (header and substream lengths, O(substreams)) and the
// parsing of a payload's header are done on the host; symbols, indexes,
// scratch and the payload body stay on the device.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "rans/cuda/rans_simt.hpp"
#include "rans/rans_errors.hpp"
#include "rans/rans_format.hpp"
#include "rans/rans_tables.hpp"

namespace codec::rans::simt {

// The CPU decoder's message for each Error.
inline const char* error_message(std::uint32_t code) {
  switch (code) {
    case kStateBelow: return "rANS initial state below 2^16";
    case kTooManyGroups: return "rANS escape has more than 9 groups";
    case kNotMinimal: return "rANS escape value is not minimally encoded";
    case kOutOfRange: return "rANS escape value outside the int32 range";
    case kOverread: return "rANS substream ends before its last word";
    case kUnusedWords: return "rANS substream has unused words";
    case kStateMismatch: return "rANS substream final state mismatch";
    default: return "rANS substream is corrupt";
  }
}

template <class Backend>
struct DeviceTables {
  typename Backend::Buffer decode, encode, symbols, cdf, lookup;
  TableView view{};
  bool narrow = true;
};

namespace detail {

template <class Backend, class T>
typename Backend::Buffer upload(Backend& b, const std::vector<T>& host) {
  const std::size_t bytes = host.size() * sizeof(T);
  typename Backend::Buffer buffer = b.alloc_result(bytes > 0 ? bytes : 1);
  if (bytes > 0) b.to_device(buffer.data(), host.data(), bytes);
  return buffer;
}

template <class Backend>
typename Backend::Buffer upload_bytes(Backend& b, const void* data, std::size_t bytes, bool result) {
  typename Backend::Buffer buffer = result ? b.alloc_result(bytes > 0 ? bytes : 1) : b.alloc(bytes > 0 ? bytes : 1);
  if (bytes > 0) b.to_device(buffer.data(), data, bytes);
  return buffer;
}

inline Tiling make_tiling(std::uint64_t count, std::uint64_t substream_size, int lanes) {
  Tiling g{};
  g.count = count;
  g.substream_size = substream_size;
  g.substreams = substream_count(count, substream_size);
  g.lanes = static_cast<std::uint32_t>(lanes);
  g.width = tile_width(g.lanes);
  return g;
}

inline std::uint64_t index_check_warps(std::uint64_t count) {
  return (count + kCheckPerWarp - 1) / kCheckPerWarp;
}

}  // namespace detail

template <class Backend>
DeviceTables<Backend> upload_tables(Backend& b, const RansTables& tables) {
  static_assert(sizeof(EncSymbolRef) == sizeof(EncSymbol), "EncSymbol layout");
  const std::size_t n = tables.num_tables();
  const auto& symbols = tables.symbol_storage();
  const auto& cdf = tables.cdf_storage();
  const bool narrow = tables.narrow_lookup();
  std::vector<DecodeTableRef> decode(n);
  std::vector<EncodeTableRef> encode(n);
  for (std::size_t t = 0; t < n; ++t) {
    const DecodeTable& d = tables.decode_tables()[t];
    const EncodeTable& e = tables.encode_tables()[t];
    const std::size_t lookup =
        narrow ? static_cast<std::size_t>(static_cast<const std::uint8_t*>(d.lookup) - tables.lookup8_storage().data())
               : static_cast<std::size_t>(static_cast<const std::uint16_t*>(d.lookup) - tables.lookup16_storage().data());
    decode[t] = DecodeTableRef{static_cast<std::uint32_t>(d.cdf - cdf.data()), static_cast<std::uint32_t>(lookup),
                               d.lookup_shift, d.offset};
    encode[t] = EncodeTableRef{static_cast<std::uint32_t>(e.symbols - symbols.data()), e.num_regular, e.offset, 0};
  }
  std::vector<EncSymbolRef> symbol_refs(symbols.size());
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    symbol_refs[i] = EncSymbolRef{symbols[i].rcp, symbols[i].freq, symbols[i].bias};
  }
  DeviceTables<Backend> out;
  out.narrow = narrow;
  out.decode = detail::upload(b, decode);
  out.encode = detail::upload(b, encode);
  out.symbols = detail::upload(b, symbol_refs);
  out.cdf = detail::upload(b, cdf);
  out.lookup = narrow ? detail::upload(b, tables.lookup8_storage()) : detail::upload(b, tables.lookup16_storage());
  out.view.decode = static_cast<const DecodeTableRef*>(out.decode.data());
  out.view.encode = static_cast<const EncodeTableRef*>(out.encode.data());
  out.view.symbols = static_cast<const EncSymbolRef*>(out.symbols.data());
  out.view.cdf = static_cast<const std::uint16_t*>(out.cdf.data());
  out.view.lookup = out.lookup.data();
  out.view.num_tables = static_cast<std::uint32_t>(n);
  out.view.precision = static_cast<std::uint32_t>(tables.precision());
  return out;
}

// Throws the CPU coder's UsageError for the first index outside the tables.
template <class Backend>
void check_indexes(Backend& b, const DeviceTables<Backend>& tables, const std::int32_t* indexes,
                   std::uint64_t count) {
  if (count == 0) return;
  typename Backend::Buffer flag = detail::upload_bytes(b, &kNone, sizeof kNone, false);
  auto* first_bad = static_cast<std::uint64_t*>(flag.data());
  b.launch(detail::index_check_warps(count), IndexCheckBody{indexes, count, tables.view.num_tables, first_bad});
  std::uint64_t position = kNone;
  b.to_host(&position, first_bad, sizeof position);
  if (position == kNone) return;
  std::int32_t index = 0;
  b.to_host(&index, indexes + position, sizeof index);
  throw UsageError("table index " + std::to_string(index) + " at position " + std::to_string(position) +
                   " outside [0, " + std::to_string(tables.view.num_tables) + ")");
}

// Encodes count values (device memory) into a payload in device memory,
// identical to codec::rans::encode with the same lanes and substream size.
template <class Backend>
typename Backend::Buffer encode(Backend& b, const DeviceTables<Backend>& tables, const std::int32_t* values,
                                const std::int32_t* indexes, std::uint64_t count, int lanes,
                                std::uint64_t substream_size) {
  if (lanes < 1 || lanes > kMaxLanes) {
    throw UsageError("lanes must be in [1, 32], got " + std::to_string(lanes));
  }
  if (substream_size < 1) throw UsageError("substream_size must be at least 1");
  check_indexes(b, tables, indexes, count);

  const Tiling g = detail::make_tiling(count, substream_size, lanes);
  std::vector<std::uint8_t> header = {kLayoutVersion, static_cast<std::uint8_t>(lanes),
                                      static_cast<std::uint8_t>(tables.view.precision), 0};
  put_varint(header, count);
  put_varint(header, substream_size);
  if (g.substreams == 0) return detail::upload_bytes(b, header.data(), header.size(), true);

  // Each item (symbol or bypass nibble) moves at most one word, so a
  // substream of m plain symbols needs at most m words: room for a few more
  // covers some escapes, and a substream that needs more makes the second
  // pass, with room for the worst case.
  const std::uint64_t longest = g.symbols_in(0);
  const std::uint64_t K = g.substreams;
  std::uint64_t capacity = longest + longest / 16 + 8;
  typename Backend::Buffer states = b.alloc(K * g.lanes * sizeof(std::uint32_t));
  typename Backend::Buffer counts_buffer = b.alloc(K * sizeof(std::uint64_t));
  typename Backend::Buffer scratch;
  std::vector<std::uint64_t> counts(K);
  for (int pass = 0; pass < 2; ++pass) {
    scratch = b.alloc(K * capacity * sizeof(std::uint16_t));
    EncodeIo io{values, indexes, static_cast<std::uint16_t*>(scratch.data()), capacity,
                static_cast<std::uint64_t*>(counts_buffer.data()), static_cast<std::uint32_t*>(states.data())};
    b.launch(g.warps(), EncodeBody{tables.view, g, io});
    b.to_host(counts.data(), counts_buffer.data(), K * sizeof(std::uint64_t));
    std::uint64_t most = 0;
    for (const std::uint64_t c : counts) most = c > most ? c : most;
    if (most <= capacity) break;
    capacity = kMaxWordsPerValue * longest;
  }

  // Framing: the substream lengths, and where each substream starts.
  std::vector<std::uint64_t> starts(K);
  std::uint64_t body = 0;
  for (std::uint64_t k = 0; k < K; ++k) {
    const std::uint64_t length = 4 * static_cast<std::uint64_t>(g.lanes) + 2 * counts[k];
    put_varint(header, length);
    starts[k] = body;
    body += length;
  }
  for (std::uint64_t k = 0; k < K; ++k) starts[k] += header.size();
  typename Backend::Buffer out = b.alloc_result(header.size() + body);
  b.to_device(out.data(), header.data(), header.size());
  typename Backend::Buffer starts_buffer = detail::upload_bytes(b, starts.data(), K * sizeof(std::uint64_t), false);
  AssembleIo assemble{static_cast<const std::uint16_t*>(scratch.data()), capacity,
                      static_cast<const std::uint64_t*>(counts_buffer.data()),
                      static_cast<const std::uint32_t*>(states.data()),
                      static_cast<const std::uint64_t*>(starts_buffer.data()), static_cast<std::uint8_t*>(out.data())};
  b.launch(K, AssembleBody{g, assemble});
  b.finish();
  return out;
}

// Decodes a payload into count values (device memory), with the checks and
// errors of codec::rans::decode. The payload is in host memory, or in device
// memory when on_device (then only its header is copied to the host).
template <class Backend>
void decode(Backend& b, const DeviceTables<Backend>& tables, const std::uint8_t* data, bool on_device,
            std::uint64_t size, const std::int32_t* indexes, std::uint64_t count, std::int32_t* out) {
  check_indexes(b, tables, indexes, count);
  const int precision = static_cast<int>(tables.view.precision);

  // The header: on the host already, or its first bytes copied over. Two
  // varints follow the 4 fixed bytes, then K lengths of at most 10 bytes.
  std::vector<std::uint8_t> head;
  const std::uint8_t* header = data;
  std::size_t available = static_cast<std::size_t>(size);
  if (on_device) {
    available = static_cast<std::size_t>(size < 24 ? size : 24);
    head.resize(available);
    if (available > 0) b.to_host(head.data(), data, available);
    std::size_t pos = kFixedHeaderBytes;
    std::uint64_t wanted = available;
    try {
      if (available < kFixedHeaderBytes) throw CorruptStream("", 0);
      const std::uint64_t n = get_varint(head.data(), available, pos);
      const std::uint64_t per = get_varint(head.data(), available, pos);
      const std::uint64_t k = per == 0 ? 0 : substream_count(n, per);
      // With more substreams than bytes left, parse_layout stops before the lengths.
      if (k <= size - pos) wanted = std::min<std::uint64_t>(size, pos + kMaxVarintBytes * k);
    } catch (const CorruptStream&) {
      // parse_layout meets the same error in the bytes at hand
    }
    if (wanted > available) {
      available = static_cast<std::size_t>(wanted);
      head.resize(available);
      b.to_host(head.data(), data, available);
    }
    header = head.data();
  }
  const PayloadLayout layout = parse_layout(header, available, static_cast<std::size_t>(size),
                                            count, precision);
  const std::uint64_t K = layout.bounds.size() - 1;
  if (K == 0) return;

  typename Backend::Buffer payload_buffer;
  const std::uint8_t* payload = data;
  if (!on_device) {
    payload_buffer = detail::upload_bytes(b, data, static_cast<std::size_t>(size), false);
    payload = static_cast<const std::uint8_t*>(payload_buffer.data());
  }
  std::vector<std::uint64_t> bounds(layout.bounds.begin(), layout.bounds.end());
  typename Backend::Buffer bounds_buffer = detail::upload_bytes(b, bounds.data(), bounds.size() * sizeof(std::uint64_t), false);
  typename Backend::Buffer codes = b.alloc(K * sizeof(std::uint32_t));
  typename Backend::Buffer offsets = b.alloc(K * sizeof(std::uint64_t));
  typename Backend::Buffer first = detail::upload_bytes(b, &kNone, sizeof kNone, false);

  const Tiling g = detail::make_tiling(count, layout.substream_size, layout.lanes);
  const DecodeIo io{payload,
                    static_cast<const std::uint64_t*>(bounds_buffer.data()),
                    indexes,
                    out,
                    static_cast<std::uint32_t*>(codes.data()),
                    static_cast<std::uint64_t*>(offsets.data()),
                    static_cast<std::uint64_t*>(first.data())};
  const std::uint64_t warps = g.warps();
  if (precision == 16) {
    if (tables.narrow) {
      b.launch(warps, DecodeBody<16, std::uint8_t>{tables.view, g, io});
    } else {
      b.launch(warps, DecodeBody<16, std::uint16_t>{tables.view, g, io});
    }
  } else if (tables.narrow) {
    b.launch(warps, DecodeBody<0, std::uint8_t>{tables.view, g, io});
  } else {
    b.launch(warps, DecodeBody<0, std::uint16_t>{tables.view, g, io});
  }

  std::uint64_t failed = kNone;
  b.to_host(&failed, first.data(), sizeof failed);
  if (failed == kNone) return;
  std::uint32_t code = 0;
  std::uint64_t offset = 0;
  b.to_host(&code, static_cast<const std::uint32_t*>(codes.data()) + failed, sizeof code);
  b.to_host(&offset, static_cast<const std::uint64_t*>(offsets.data()) + failed, sizeof offset);
  throw CorruptStream(error_message(code), static_cast<std::size_t>(offset));
}

}  // namespace codec::rans::simt
