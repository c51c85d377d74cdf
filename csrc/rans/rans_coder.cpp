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
  tables.check_indexes(indexes, count);

  const std::uint64_t size = options.substream_size;
  const auto substreams = static_cast<std::size_t>(substream_count(count, size));
  std::vector<std::vector<std::uint8_t>> parts(substreams);
  const std::size_t workers = worker_count(substreams, options.threads);
  std::vector<WordSink> sinks(workers);
  run_jobs(substreams, workers, [&](std::size_t k, std::size_t worker) {
    const std::size_t first = static_cast<std::size_t>(k * size);
    const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(size), count - first);
    encode_substream(tables, values + first, indexes + first, n, options.lanes, sinks[worker],
                     parts[k]);
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
  tables.check_indexes(indexes, count);
  const PayloadLayout layout = parse_layout(data, size, count, tables.precision());
  const std::size_t substreams = layout.bounds.size() - 1;
  const std::uint64_t per = layout.substream_size;
  run_jobs(substreams, worker_count(substreams, threads), [&](std::size_t k, std::size_t) {
    const auto first = static_cast<std::size_t>(k * per);
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(per, count - first));
    decode_substream(tables, data, layout.bounds[k], layout.bounds[k + 1], indexes + first, n,
                     layout.lanes, out + first);
  });
}

}  // namespace codec::rans
