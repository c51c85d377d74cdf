// The overfitted image family's latent coding kernel (module codec.models.image.overfit._overfit).
//
// Latent grids are coded coarsest first, in raster order within a grid; each
// latent's table comes from an integer context model (an MLP over causal
// neighbours and the next coarser grid) whose arithmetic is bitstream/SPEC.md
// section 7.2's. Decoding is sequential by nature, so it lives here, in one
// loop that decodes a symbol as soon as its table is known, from a standard
// rANS block (SPEC section 5) read incrementally. The encoder runs the same
// model over known grids (every position at once) and codes with the
// ordinary rANS coder; sharing this code is what makes both sides agree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace codec::overfit {

// A stream that fails validation; `offset` is the byte position in the block where it was found.
class CorruptBlock : public std::runtime_error {
 public:
  CorruptBlock(const std::string& what, std::size_t offset) : std::runtime_error(what), offset_(offset) {}
  std::size_t offset() const { return offset_; }

 private:
  std::size_t offset_;
};

// One integer linear layer: out[o] = sat(round_shift(bias[o] + sum_i weight[o * in + i] * x[i], shift)).
struct Linear {
  int in = 0;
  int out = 0;
  std::vector<std::int64_t> weight;  // out x in, row-major
  std::vector<std::int64_t> bias;    // out
  int shift = 0;                     // one shift for the layer (> 0: round half up; <= 0: exact left shift)
};

// The context model: hidden[0] (relu), hidden[1..] (residual, relu), then out + stabiliser; with no
// hidden layer only the stabiliser (whose bias is then the output bias). Activations have `fraction`
// fraction bits; latents enter as latent * 2^fraction.
struct ContextModel {
  std::vector<Linear> hidden;
  Linear out;         // hidden width -> 2 (unused without hidden layers)
  Linear stabiliser;  // inputs -> 2
  int fraction = 8;
};

// Where a latent's context comes from and how its outputs choose a table.
struct Layout {
  std::vector<int> context_dy, context_dx;  // causal neighbours in the same grid
  std::vector<int> coarse_dy, coarse_dx;    // around (y / 2, x / 2) in the next coarser grid
  std::vector<int> heights, widths;         // grid sizes, finest first
  std::vector<std::int64_t> thresholds;     // ascending; scale index = count of thresholds <= log-scale output
  int phase_bits = 3;                       // 2^phase_bits tables per scale, one per 1/2^phase_bits of the mean
  int latent_limit = 4095;
};

// Quantized CDF tables in the layout of codec.entropy.CdfTables.
struct Tables {
  const std::int32_t* cdfs = nullptr;
  std::size_t count = 0;
  std::size_t stride = 0;
  const std::int32_t* lengths = nullptr;
  const std::int32_t* offsets = nullptr;
  int precision = 16;
};

// Table index and base (the integer the coded symbol is relative to) of every latent of the known
// grids, in coding order (coarsest grid first, raster order).
void parameters(const ContextModel& model, const Layout& layout, const std::vector<const std::int32_t*>& grids,
                std::int32_t* indexes, std::int32_t* bases);

// Decodes the grids (finest first, each heights[g] x widths[g]) from one rANS block.
void decode(const ContextModel& model, const Layout& layout, const Tables& tables, const std::uint8_t* data,
            std::size_t size, const std::vector<std::int32_t*>& grids);

}  // namespace codec::overfit
