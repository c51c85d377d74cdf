// See arm_coder.hpp. The rANS block reader follows bitstream/SPEC.md sections 5.2-5.3 word for word;
// the context model follows section 7.2's integer rules (bitstream/models/overfit.md, section 4).
#include "arm_coder.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace codec::overfit {
namespace {

constexpr std::int64_t kActLimit = (std::int64_t{1} << 20) - 1;
constexpr std::uint32_t kStateLow = 1u << 16;
constexpr int kMaxEscapeGroups = 9;

std::int64_t saturate(std::int64_t v) { return std::min(std::max(v, -kActLimit), kActLimit); }

// requantize(acc, s) of SPEC 7.2: round half up for s > 0, exact left shift otherwise, then saturate.
std::int64_t requantize(std::int64_t acc, int shift) {
  if (shift > 0) {
    const int s = std::min(shift, 62);
    return saturate((acc + (std::int64_t{1} << (s - 1))) >> s);
  }
  if (acc == 0) return 0;
  if (acc > kActLimit) return kActLimit;
  if (acc < -kActLimit) return -kActLimit;
  return saturate(acc * (std::int64_t{1} << std::min(-shift, 42)));
}

// Exact: every product and partial sum is an integer below 2^53 (checked when the model is built, in
// Python), so double arithmetic gives the same sum in any order. Weights are stored transposed ([in][out])
// so that the inner loop runs over outputs (it vectorizes without reordering any sum), and zero inputs,
// common in sparse latents and after a ReLU, are skipped.
void linear(const Linear& layer, const double* weight_t, const double* x, double* acc, double* y) {
  for (int o = 0; o < layer.out; ++o) acc[o] = static_cast<double>(layer.bias[o]);
  for (int i = 0; i < layer.in; ++i) {
    const double xi = x[i];
    if (xi == 0.0) continue;
    const double* w = weight_t + static_cast<std::size_t>(i) * layer.out;
    for (int o = 0; o < layer.out; ++o) acc[o] += w[o] * xi;
  }
  for (int o = 0; o < layer.out; ++o) {
    y[o] = static_cast<double>(requantize(static_cast<std::int64_t>(acc[o]), layer.shift));
  }
}

std::vector<double> transposed(const Linear& layer) {
  std::vector<double> t(layer.weight.size());
  for (int o = 0; o < layer.out; ++o) {
    for (int i = 0; i < layer.in; ++i) {
      const std::size_t from = static_cast<std::size_t>(o) * layer.in + i;
      t[static_cast<std::size_t>(i) * layer.out + o] = static_cast<double>(layer.weight[from]);
    }
  }
  return t;
}

// The context model with its weights as doubles, and scratch space for one evaluation.
class Evaluator {
 public:
  explicit Evaluator(const ContextModel& m) : m_(m) {
    for (const auto& layer : m.hidden) hidden_.push_back(transposed(layer));
    out_ = transposed(m.out);
    stab_ = transposed(m.stabiliser);
    int width = m.stabiliser.in;
    for (const auto& layer : m.hidden) width = std::max(width, layer.out);
    a_.assign(width, 0.0);
    b_.assign(width, 0.0);
    acc_.assign(width, 0.0);
    x_.assign(m.stabiliser.in, 0.0);
  }

  // (mean, log-scale) with `fraction` fraction bits for the latent context `c` (integers).
  std::array<std::int64_t, 2> operator()(const std::int32_t* c) {
    const int n = m_.stabiliser.in;
    const double scale = static_cast<double>(std::int64_t{1} << m_.fraction);
    for (int i = 0; i < n; ++i) x_[i] = static_cast<double>(c[i]) * scale;
    double s[2];
    linear(m_.stabiliser, stab_.data(), x_.data(), acc_.data(), s);
    if (m_.hidden.empty()) return {static_cast<std::int64_t>(s[0]), static_cast<std::int64_t>(s[1])};
    linear(m_.hidden[0], hidden_[0].data(), x_.data(), acc_.data(), a_.data());
    for (int o = 0; o < m_.hidden[0].out; ++o) a_[o] = std::max(a_[o], 0.0);
    for (std::size_t l = 1; l < m_.hidden.size(); ++l) {
      const Linear& layer = m_.hidden[l];
      linear(layer, hidden_[l].data(), a_.data(), acc_.data(), b_.data());
      for (int o = 0; o < layer.out; ++o) {
        a_[o] = std::max(static_cast<double>(saturate(static_cast<std::int64_t>(b_[o] + a_[o]))), 0.0);
      }
    }
    double o[2];
    linear(m_.out, out_.data(), a_.data(), acc_.data(), o);
    return {saturate(static_cast<std::int64_t>(o[0] + s[0])), saturate(static_cast<std::int64_t>(o[1] + s[1]))};
  }

 private:
  const ContextModel& m_;
  std::vector<std::vector<double>> hidden_;
  std::vector<double> out_, stab_, a_, b_, acc_, x_;
};

// Gathers contexts and turns model outputs into (table, base), with the all-zero context cached.
class Context {
 public:
  Context(const ContextModel& m, const Layout& layout)
      : eval_(m), layout_(layout), drop_(m.fraction - layout.phase_bits) {
    if (drop_ <= 0) throw std::invalid_argument("the mean needs more fraction bits than phase bits");
    c_.assign(layout.context_dy.size() + layout.coarse_dy.size(), 0);
    const std::vector<std::int32_t> zeros(c_.size(), 0);
    zero_ = select(eval_(zeros.data()));
  }

  // Table index and base of position (y, x) of a grid of width w (rows above and the left part of row y
  // already known), with `coarse` the next coarser grid (ch x cw) or null.
  std::array<std::int32_t, 2> at(const std::int32_t* grid, int w, int y, int x, const std::int32_t* coarse, int ch,
                                 int cw) {
    bool any = false;
    const std::size_t n = layout_.context_dy.size();
    for (std::size_t k = 0; k < n; ++k) {
      const int yy = y + layout_.context_dy[k], xx = x + layout_.context_dx[k];
      const std::int32_t v = (yy >= 0 && xx >= 0 && xx < w) ? grid[static_cast<std::size_t>(yy) * w + xx] : 0;
      c_[k] = v;
      any |= v != 0;
    }
    for (std::size_t k = 0; k < layout_.coarse_dy.size(); ++k) {
      std::int32_t v = 0;
      if (coarse != nullptr) {
        const int yy = y / 2 + layout_.coarse_dy[k], xx = x / 2 + layout_.coarse_dx[k];
        if (yy >= 0 && yy < ch && xx >= 0 && xx < cw) v = coarse[static_cast<std::size_t>(yy) * cw + xx];
      }
      c_[n + k] = v;
      any |= v != 0;
    }
    return any ? select(eval_(c_.data())) : zero_;
  }

 private:
  // mean -> q = round(mean * 2^phase_bits) (half up), base = floor(q / 2^phase_bits), phase = q mod 2^phase_bits;
  // scale index = number of thresholds <= log-scale output; table = scale index * 2^phase_bits + phase.
  std::array<std::int32_t, 2> select(const std::array<std::int64_t, 2>& out) const {
    const std::int64_t q = (out[0] + (std::int64_t{1} << (drop_ - 1))) >> drop_;
    const std::int64_t base = q >> layout_.phase_bits;
    const std::int64_t phase = q & ((std::int64_t{1} << layout_.phase_bits) - 1);
    const auto& t = layout_.thresholds;
    const std::int64_t scale = std::upper_bound(t.begin(), t.end(), out[1]) - t.begin();
    return {static_cast<std::int32_t>((scale << layout_.phase_bits) + phase), static_cast<std::int32_t>(base)};
  }

  Evaluator eval_;
  const Layout& layout_;
  int drop_;
  std::vector<std::int32_t> c_;
  std::array<std::int32_t, 2> zero_{};
};

std::uint64_t read_varint(const std::uint8_t* data, std::size_t size, std::size_t& pos) {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= size) throw CorruptBlock("truncated varint", pos);
    const std::uint8_t byte = data[pos++];
    if (shift == 63 && byte > 1) throw CorruptBlock("varint overflows 64 bits", pos - 1);
    value |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
    if (!(byte & 0x80)) {
      if (byte == 0 && shift > 0) throw CorruptBlock("non-canonical varint", pos - 1);
      return value;
    }
  }
  throw CorruptBlock("varint too long", pos);
}

std::uint32_t load_u16(const std::uint8_t* p) { return p[0] | static_cast<std::uint32_t>(p[1]) << 8; }

// Reads one rANS block (SPEC 5.2) symbol by symbol, each with a table chosen just before it is read.
class BlockReader {
 public:
  BlockReader(const Tables& tables, const std::uint8_t* data, std::size_t size, std::uint64_t expected)
      : t_(tables), data_(data), size_(size) {
    if (size < 4) throw CorruptBlock("block shorter than its fixed header", 0);
    if (data[0] != 1) throw CorruptBlock("unknown rANS block layout version", 0);
    lanes_ = data[1];
    if (lanes_ < 1 || lanes_ > 32) throw CorruptBlock("lane count outside 1..32", 1);
    if (data[2] != tables.precision) throw CorruptBlock("block precision differs from the tables'", 2);
    if (data[3] != 0) throw CorruptBlock("reserved byte is not 0", 3);
    std::size_t pos = 4;
    n_ = read_varint(data, size, pos);
    if (n_ != expected) throw CorruptBlock("symbol count differs from the latent count", 4);
    substream_size_ = read_varint(data, size, pos);
    if (substream_size_ == 0) throw CorruptBlock("substream size is 0", pos);
    const std::uint64_t k = n_ == 0 ? 0 : (n_ - 1) / substream_size_ + 1;
    if (k > size - pos) throw CorruptBlock("more substreams than bytes", pos);
    lengths_.reserve(static_cast<std::size_t>(k));
    std::uint64_t total = 0;
    for (std::uint64_t i = 0; i < k; ++i) {
      const std::uint64_t len = read_varint(data, size, pos);
      if (len > size) throw CorruptBlock("substream longer than the block", pos);
      total += len;
      lengths_.push_back(len);
    }
    if (total != size - pos) throw CorruptBlock("substream lengths do not add up to the block", pos);
    next_start_ = pos;
  }

  std::int32_t read(std::int32_t table) {
    if (j_ == in_substream_) open_next();
    std::uint32_t& x = state_[static_cast<std::size_t>(j_ % lanes_)];
    ++j_;
    const std::int32_t* cdf = t_.cdfs + static_cast<std::size_t>(table) * t_.stride;
    const std::int32_t length = t_.lengths[table];
    const std::uint32_t mask = (1u << t_.precision) - 1;
    const std::uint32_t slot = x & mask;
    // the symbol s with cdf[s] <= slot < cdf[s + 1]
    const std::int32_t* it = std::upper_bound(cdf, cdf + length, static_cast<std::int32_t>(slot));
    const std::int32_t s = static_cast<std::int32_t>(it - cdf) - 1;
    const std::uint32_t start = static_cast<std::uint32_t>(cdf[s]);
    const std::uint32_t freq = static_cast<std::uint32_t>(cdf[s + 1]) - start;
    x = freq * (x >> t_.precision) + slot - start;
    refill(x);
    const std::int32_t regular = length - 2;
    if (s < regular) return t_.offsets[table] + s;
    const int groups = static_cast<int>(nibble(x)) + 1;
    if (groups > kMaxEscapeGroups) throw CorruptBlock("escape with more than 9 groups", word_pos());
    std::uint64_t w = 0;
    std::uint32_t top = 0;
    for (int g = 0; g < groups; ++g) {
      top = nibble(x);
      w |= static_cast<std::uint64_t>(top) << (4 * g);
    }
    if (groups > 1 && top == 0) throw CorruptBlock("escape with a zero top nibble", word_pos());
    const std::int64_t d = static_cast<std::int64_t>(w >> 1);
    const std::int64_t value = (w & 1) ? std::int64_t{t_.offsets[table]} - 1 - d
                                       : std::int64_t{t_.offsets[table]} + regular + d;
    if (value < std::numeric_limits<std::int32_t>::min() || value > std::numeric_limits<std::int32_t>::max()) {
      throw CorruptBlock("escaped value outside 32 bits", word_pos());
    }
    return static_cast<std::int32_t>(value);
  }

  void finish() {
    if (j_ != in_substream_ || substream_ != lengths_.size()) throw CorruptBlock("block holds more symbols", size_);
    close_current();
  }

 private:
  std::uint32_t nibble(std::uint32_t& x) {
    const std::uint32_t v = x & 15;
    x >>= 4;
    refill(x);
    return v;
  }

  void refill(std::uint32_t& x) {
    if (x < kStateLow) {
      if (word_ + 2 > word_end_) throw CorruptBlock("substream ends before its symbols", word_);
      x = (x << 16) | load_u16(data_ + word_);
      word_ += 2;
    }
  }

  std::size_t word_pos() const { return word_; }

  void close_current() {
    if (!opened_) return;
    for (int l = 0; l < lanes_; ++l) {
      if (state_[static_cast<std::size_t>(l)] != kStateLow) throw CorruptBlock("lane state does not end at 2^16", word_);
    }
    if (word_ != word_end_) throw CorruptBlock("substream has unread words", word_);
  }

  void open_next() {
    close_current();
    if (substream_ >= lengths_.size()) throw CorruptBlock("more symbols than the block holds", size_);
    const std::uint64_t len = lengths_[substream_];
    const std::size_t start = next_start_;
    const std::size_t states = static_cast<std::size_t>(lanes_) * 4;
    if (len < states || (len - states) % 2 != 0) throw CorruptBlock("substream length is invalid", start);
    state_.assign(static_cast<std::size_t>(lanes_), 0);
    for (int l = 0; l < lanes_; ++l) {
      const std::uint8_t* p = data_ + start + 4 * static_cast<std::size_t>(l);
      const std::uint32_t v = load_u16(p) | load_u16(p + 2) << 16;
      if (v < kStateLow) throw CorruptBlock("lane state below 2^16", start);
      state_[static_cast<std::size_t>(l)] = v;
    }
    word_ = start + states;
    word_end_ = start + static_cast<std::size_t>(len);
    next_start_ = word_end_;
    const std::uint64_t first = substream_ * substream_size_;
    in_substream_ = static_cast<std::int64_t>(std::min<std::uint64_t>(substream_size_, n_ - first));
    j_ = 0;
    ++substream_;
    opened_ = true;
  }

  const Tables& t_;
  const std::uint8_t* data_;
  std::size_t size_;
  int lanes_ = 1;
  std::uint64_t n_ = 0, substream_size_ = 1;
  std::vector<std::uint64_t> lengths_;
  std::size_t next_start_ = 0, word_ = 0, word_end_ = 0;
  std::size_t substream_ = 0;
  std::vector<std::uint32_t> state_;
  std::int64_t j_ = 0, in_substream_ = 0;
  bool opened_ = false;
};

}  // namespace

void parameters(const ContextModel& model, const Layout& layout, const std::vector<const std::int32_t*>& grids,
                std::int32_t* indexes, std::int32_t* bases) {
  Context ctx(model, layout);
  std::size_t k = 0;
  for (int g = static_cast<int>(grids.size()) - 1; g >= 0; --g) {
    const int h = layout.heights[g], w = layout.widths[g];
    const bool has_coarse = g + 1 < static_cast<int>(grids.size());
    const std::int32_t* coarse = has_coarse ? grids[g + 1] : nullptr;
    const int ch = has_coarse ? layout.heights[g + 1] : 0, cw = has_coarse ? layout.widths[g + 1] : 0;
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x, ++k) {
        const auto p = ctx.at(grids[g], w, y, x, coarse, ch, cw);
        indexes[k] = p[0];
        bases[k] = p[1];
      }
    }
  }
}

void decode(const ContextModel& model, const Layout& layout, const Tables& tables, const std::uint8_t* data,
            std::size_t size, const std::vector<std::int32_t*>& grids) {
  std::uint64_t total = 0;
  for (std::size_t g = 0; g < grids.size(); ++g) {
    total += static_cast<std::uint64_t>(layout.heights[g]) * static_cast<std::uint64_t>(layout.widths[g]);
  }
  BlockReader reader(tables, data, size, total);
  Context ctx(model, layout);
  const std::int64_t limit = layout.latent_limit;
  for (int g = static_cast<int>(grids.size()) - 1; g >= 0; --g) {
    const int h = layout.heights[g], w = layout.widths[g];
    const bool has_coarse = g + 1 < static_cast<int>(grids.size());
    const std::int32_t* coarse = has_coarse ? grids[g + 1] : nullptr;
    const int ch = has_coarse ? layout.heights[g + 1] : 0, cw = has_coarse ? layout.widths[g + 1] : 0;
    std::int32_t* grid = grids[g];
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const auto p = ctx.at(grid, w, y, x, coarse, ch, cw);
        if (p[0] < 0 || static_cast<std::size_t>(p[0]) >= tables.count) {
          throw CorruptBlock("context model chose a table that does not exist", 0);
        }
        const std::int64_t value = std::int64_t{reader.read(p[0])} + p[1];
        if (value < -limit || value > limit) throw CorruptBlock("decoded latent outside the allowed range", 0);
        grid[static_cast<std::size_t>(y) * w + x] = static_cast<std::int32_t>(value);
      }
    }
  }
  reader.finish();
}

}  // namespace codec::overfit
