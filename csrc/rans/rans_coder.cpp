#include "rans/rans_coder.hpp"

#include <algorithm>
#include <string>

#include "rans/rans_format.hpp"
#include "rans/rans_parallel.hpp"
#include "rans/rans_substream.hpp"

namespace codec::rans {

std::vector<std::uint8_t> encode(const RansTables& tables, const std::int32_t* values,
                                 const std::int32_t* indexes, std::size_t count,
                                 const EncodeOptions& options) {
  if (options.lanes < 1 || options.lanes > kMaxLanes) {
    throw UsageError("lanes must be in [1, 32], got " + std::to_string(options.lanes));
  }
  if (options.substream_size < 1) throw UsageError("substream_size must be at least 1");

  const std::uint64_t size = options.substream_size;
  const auto substreams = static_cast<std::size_t>(substream_count(count, size));
  auto first_of = [&](std::size_t k) { return static_cast<std::size_t>(k * size); };
  auto count_of = [&](std::size_t k) {
    return static_cast<std::size_t>(std::min<std::uint64_t>(size, count - first_of(k)));
  };
  std::vector<std::vector<std::uint8_t>> parts(substreams);
  const std::size_t workers = worker_count(substreams, options.threads);
  std::vector<WordSink> sinks(workers);
  // Each job checks its own table indexes first (they are then in cache for
  // the coding), so validation is spread over the threads too.
  run_checked_jobs(
      substreams, workers,
      [&](std::size_t k) { tables.check_indexes(indexes, first_of(k), first_of(k) + count_of(k)); },
      [&](std::size_t k, std::size_t worker) {
        encode_substream(tables, values + first_of(k), indexes + first_of(k), count_of(k),
                         options.lanes, sinks[worker], parts[k]);
      });

  std::vector<std::uint8_t> out = {kLayoutVersion, static_cast<std::uint8_t>(options.lanes),
                                   static_cast<std::uint8_t>(tables.precision()), 0};
  put_varint(out, count);
  put_varint(out, size);
  std::size_t body = 0;
  for (const auto& part : parts) {
    put_varint(out, part.size());
    body += part.size();
  }
  out.reserve(out.size() + body);
  for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

void decode(const RansTables& tables, const std::uint8_t* data, std::size_t size,
            const std::int32_t* indexes, std::size_t count, std::int32_t* out, int threads) {
  // Bad table indexes are reported before anything wrong with the data, as
  // if they were all checked first; the jobs below check their own share.
  PayloadLayout layout;
  try {
    layout = parse_layout(data, size, count, tables.precision());
  } catch (const CorruptStream&) {
    tables.check_indexes(indexes, count);
    throw;
  }
  const std::size_t substreams = layout.bounds.size() - 1;
  const std::uint64_t per = layout.substream_size;
  auto first_of = [&](std::size_t k) { return static_cast<std::size_t>(k * per); };
  auto count_of = [&](std::size_t k) {
    return static_cast<std::size_t>(std::min<std::uint64_t>(per, count - first_of(k)));
  };
  run_checked_jobs(
      substreams, worker_count(substreams, threads),
      [&](std::size_t k) { tables.check_indexes(indexes, first_of(k), first_of(k) + count_of(k)); },
      [&](std::size_t k, std::size_t) {
        decode_substream(tables, data, layout.bounds[k], layout.bounds[k + 1], indexes + first_of(k),
                         count_of(k), layout.lanes, out + first_of(k));
      });
}

}  // namespace codec::rans
