// The overfitted family's rate term for fitting, forward and backward in one pass
// (module codec.models.image.overfit._overfit, function `rate_gradients`).
//
// Fitting an image evaluates the float context model on every latent (about
// 1.3 per pixel) at every step, with its gradient. In PyTorch that is a dozen
// separate passes over [latents x 16] tensors whose small matrix products and
// element-wise steps run far below the CPU's speed; here each block of 16
// latents goes through the whole model, the Laplace bits and their gradient
// while it sits in registers and L1. The result is the total bits and the
// gradient of that total with respect to every latent and every parameter:
// the fitter's loss is linear in the total, so nothing else is needed.
//
// The arithmetic is the float model of codec/models/image/overfit/network.py
// (ContextModel, laplace_bits), float32, with the same gradient conventions
// as PyTorch's autograd of that code (clamp and relu pass the gradient where
// their input is inside, sign(0) has no gradient). It is not normative: the
// decoder runs the integer model of arm_coder.hpp.
#pragma once

#include <cstdint>

namespace codec::overfit {

constexpr int kFitMaxInputs = 32;
constexpr int kFitMaxHidden = 32;
constexpr int kFitMaxLayers = 4;

// The float context model: hidden[0] (relu), hidden[1..] (residual, relu), out + stabiliser, all row-major.
struct FitNet {
  int inputs = 0;
  int hidden = 0;
  int layers = 0;
  const float* weight[kFitMaxLayers] = {};  // [hidden x inputs] for layer 0, [hidden x hidden] after
  const float* bias[kFitMaxLayers] = {};
  const float* out_weight = nullptr;  // [2 x hidden] (unused without layers)
  const float* out_bias = nullptr;    // [2]
  const float* stabiliser = nullptr;  // [2 x inputs]
};

// Where the gradients accumulate (same shapes as FitNet; added to, not overwritten).
struct FitGrads {
  float* weight[kFitMaxLayers] = {};
  float* bias[kFitMaxLayers] = {};
  float* out_weight = nullptr;
  float* out_bias = nullptr;
  float* stabiliser = nullptr;
};

struct LaplaceRange {
  float log_scale_offset;  // scale = exp(clamp(raw + offset, log_min, log_max))
  float log_min;
  float log_max;
};

// Total bits of latents `atlas[0 .. rows)` (the flat grids), row r's context being
// atlas[index[r * net.inputs + k]]; adds d(total)/d(atlas) into grad_atlas (same length as atlas)
// and the parameter gradients into `grads`.
double rate_gradients(const float* atlas, const std::int32_t* index, std::int64_t rows, const FitNet& net,
                      const LaplaceRange& range, float* grad_atlas, const FitGrads& grads);

}  // namespace codec::overfit
