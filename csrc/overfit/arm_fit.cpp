// Fused forward and backward of the overfitted family's float context model and Laplace rate
// (see arm_fit.hpp). Latents go through in blocks of kLanes; every loop over the lanes of a block
// is a plain loop over a fixed-size array, which the compiler turns into vector instructions (32
// lanes: enough independent vectors per loop to keep the multiply-add units busy), and
// the function is built for AVX-512, AVX2 and baseline x86-64 (or the target's default), picked at
// load time.
#include "arm_fit.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace codec::overfit {
namespace {

constexpr int kLanes = 32;
constexpr float kMinProbability = 1.0f / 65536.0f;  // laplace_bits' clamp_min(2^-16)

// Per-lane partial sums of the parameter gradients, reduced into FitGrads at the end.
struct LaneSums {
  std::vector<float> weight[kFitMaxLayers], bias[kFitMaxLayers], out_weight, out_bias, stabiliser;

  explicit LaneSums(const FitNet& net) {
    for (int i = 0; i < net.layers; ++i) {
      const int in = i == 0 ? net.inputs : net.hidden;
      weight[i].assign(static_cast<std::size_t>(net.hidden) * in * kLanes, 0.0f);
      bias[i].assign(static_cast<std::size_t>(net.hidden) * kLanes, 0.0f);
    }
    out_weight.assign(static_cast<std::size_t>(2) * std::max(net.hidden, 1) * kLanes, 0.0f);
    out_bias.assign(2 * kLanes, 0.0f);
    stabiliser.assign(static_cast<std::size_t>(2) * net.inputs * kLanes, 0.0f);
  }
};

void reduce_into(const std::vector<float>& lanes, float* out) {
  const std::size_t n = lanes.size() / kLanes;
  for (std::size_t i = 0; i < n; ++i) {
    float s = 0.0f;
    for (int l = 0; l < kLanes; ++l) s += lanes[i * kLanes + l];
    out[i] += s;
  }
}

inline float sign_of(float x) { return static_cast<float>((x > 0.0f) - (x < 0.0f)); }

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(__clang__)
#define CODEC_FIT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CODEC_FIT_CLONES
#endif

CODEC_FIT_CLONES
double run_blocks(const float* atlas, const std::int32_t* index, std::int64_t rows, const FitNet& net,
                  const LaplaceRange& range, float* grad_atlas, LaneSums& sums) {
  const int K = net.inputs, H = net.hidden, NL = net.layers;
  alignas(64) float c[kFitMaxInputs][kLanes];
  alignas(64) float z[kFitMaxLayers][kFitMaxHidden][kLanes];
  alignas(64) float h[kFitMaxLayers][kFitMaxHidden][kLanes];
  alignas(64) float dh[kFitMaxHidden][kLanes], dz[kFitMaxHidden][kLanes], dprev[kFitMaxHidden][kLanes];
  alignas(64) float dc[kFitMaxInputs][kLanes];
  alignas(64) float o0[kLanes], o1[kLanes], d0[kLanes], d1[kLanes], dy[kLanes], valid[kLanes], y[kLanes];
  double total = 0.0;

  for (std::int64_t r0 = 0; r0 < rows; r0 += kLanes) {
    const int n = static_cast<int>(std::min<std::int64_t>(kLanes, rows - r0));
    for (int l = 0; l < kLanes; ++l) {
      valid[l] = l < n ? 1.0f : 0.0f;
      y[l] = l < n ? atlas[r0 + l] : 0.0f;
    }
    for (int k = 0; k < K; ++k) {
      for (int l = 0; l < kLanes; ++l) c[k][l] = l < n ? atlas[index[(r0 + l) * K + k]] : 0.0f;
    }

    // -- forward: hidden layers -------------------------------------------------------------
    for (int i = 0; i < NL; ++i) {
      const int in = i == 0 ? K : H;
      const float(*x)[kLanes] = i == 0 ? c : h[i - 1];
      const float* w = net.weight[i];
      // Loops ordered so that consecutive multiply-adds go to different outputs (no dependency chain).
      for (int j = 0; j < H; ++j) {
        for (int l = 0; l < kLanes; ++l) z[i][j][l] = net.bias[i][j] + (i > 0 ? x[j][l] : 0.0f);
      }
      for (int k = 0; k < in; ++k) {
        for (int j = 0; j < H; ++j) {
          const float wjk = w[j * in + k];
          for (int l = 0; l < kLanes; ++l) z[i][j][l] += wjk * x[k][l];
        }
      }
      for (int j = 0; j < H; ++j) {
        for (int l = 0; l < kLanes; ++l) h[i][j][l] = z[i][j][l] > 0.0f ? z[i][j][l] : 0.0f;
      }
    }
    // -- forward: outputs (mean, raw log-scale) ------------------------------------------------
    for (int l = 0; l < kLanes; ++l) {
      o0[l] = net.out_bias[0];
      o1[l] = net.out_bias[1];
    }
    if (NL > 0) {
      for (int j = 0; j < H; ++j) {
        const float w0 = net.out_weight[j], w1 = net.out_weight[H + j];
        for (int l = 0; l < kLanes; ++l) {
          o0[l] += w0 * h[NL - 1][j][l];
          o1[l] += w1 * h[NL - 1][j][l];
        }
      }
    }
    for (int k = 0; k < K; ++k) {
      const float w0 = net.stabiliser[k], w1 = net.stabiliser[K + k];
      for (int l = 0; l < kLanes; ++l) {
        o0[l] += w0 * c[k][l];
        o1[l] += w1 * c[k][l];
      }
    }

    // -- the Laplace bits and their gradient with respect to the outputs and the latent --------
    for (int l = 0; l < kLanes; ++l) {
      const float t = o1[l] + range.log_scale_offset;
      const bool inside = t >= range.log_min && t <= range.log_max;
      const float s = std::exp(std::min(std::max(t, range.log_min), range.log_max));
      const float d = y[l] - o0[l];
      const float xp = d + 0.5f, xm = d - 0.5f;
      const float ap = -std::fabs(xp) / s, am = -std::fabs(xm) / s;
      const float cdf_p = 0.5f - 0.5f * sign_of(xp) * std::expm1(ap);
      const float cdf_m = 0.5f - 0.5f * sign_of(xm) * std::expm1(am);
      const float p = cdf_p - cdf_m;
      const float pc = p > kMinProbability ? p : kMinProbability;
      total += valid[l] * -std::log2(pc);
      const float ep = std::exp(ap), em = std::exp(am);
      const float g = p >= kMinProbability ? valid[l] * (-1.0f / (p * 0.69314718f)) : 0.0f;
      const float sp = sign_of(xp), sm = sign_of(xm);
      const float dp_dd = 0.5f / s * (ep * sp * sp - em * sm * sm);
      const float dp_ds = -0.5f / (s * s) * (xp * ep - xm * em);
      const float dd = g * dp_dd;
      dy[l] = dd;
      d0[l] = -dd;
      d1[l] = inside ? g * dp_ds * s : 0.0f;
    }

    // -- backward: outputs --------------------------------------------------------------------
    for (int l = 0; l < kLanes; ++l) {
      sums.out_bias[l] += d0[l];
      sums.out_bias[kLanes + l] += d1[l];
    }
    for (int k = 0; k < K; ++k) {
      const float w0 = net.stabiliser[k], w1 = net.stabiliser[K + k];
      float* g0 = &sums.stabiliser[static_cast<std::size_t>(k) * kLanes];
      float* g1 = &sums.stabiliser[static_cast<std::size_t>(K + k) * kLanes];
      for (int l = 0; l < kLanes; ++l) {
        g0[l] += d0[l] * c[k][l];
        g1[l] += d1[l] * c[k][l];
        dc[k][l] = w0 * d0[l] + w1 * d1[l];
      }
    }
    if (NL > 0) {
      for (int j = 0; j < H; ++j) {
        const float w0 = net.out_weight[j], w1 = net.out_weight[H + j];
        float* g0 = &sums.out_weight[static_cast<std::size_t>(j) * kLanes];
        float* g1 = &sums.out_weight[static_cast<std::size_t>(H + j) * kLanes];
        for (int l = 0; l < kLanes; ++l) {
          g0[l] += d0[l] * h[NL - 1][j][l];
          g1[l] += d1[l] * h[NL - 1][j][l];
          dh[j][l] = w0 * d0[l] + w1 * d1[l];
        }
      }
    }
    // -- backward: hidden layers, last to first ----------------------------------------------
    for (int i = NL - 1; i >= 0; --i) {
      const int in = i == 0 ? K : H;
      const float(*x)[kLanes] = i == 0 ? c : h[i - 1];
      const float* w = net.weight[i];
      for (int j = 0; j < H; ++j) {
        float* gb = &sums.bias[i][static_cast<std::size_t>(j) * kLanes];
        for (int l = 0; l < kLanes; ++l) {
          dz[j][l] = z[i][j][l] > 0.0f ? dh[j][l] : 0.0f;
          gb[l] += dz[j][l];
        }
        for (int k = 0; k < in; ++k) {
          float* gw = &sums.weight[i][(static_cast<std::size_t>(j) * in + k) * kLanes];
          for (int l = 0; l < kLanes; ++l) gw[l] += dz[j][l] * x[k][l];
        }
      }
      float(*dx)[kLanes] = i == 0 ? dc : dprev;
      if (i > 0) {
        for (int k = 0; k < in; ++k) {
          for (int l = 0; l < kLanes; ++l) dx[k][l] = dz[k][l];  // the residual path
        }
      }
      for (int j = 0; j < H; ++j) {
        for (int k = 0; k < in; ++k) {
          const float wjk = w[j * in + k];
          for (int l = 0; l < kLanes; ++l) dx[k][l] += wjk * dz[j][l];
        }
      }
      if (i > 0) {
        for (int j = 0; j < H; ++j) {
          for (int l = 0; l < kLanes; ++l) dh[j][l] = dprev[j][l];
        }
      }
    }

    // -- scatter into the latents' gradient ------------------------------------------------------
    for (int l = 0; l < n; ++l) {
      const std::int32_t* row = index + (r0 + l) * K;
      for (int k = 0; k < K; ++k) grad_atlas[row[k]] += dc[k][l];
      grad_atlas[r0 + l] += dy[l];
    }
  }
  return total;
}

}  // namespace

double rate_gradients(const float* atlas, const std::int32_t* index, std::int64_t rows, const FitNet& net,
                      const LaplaceRange& range, float* grad_atlas, const FitGrads& grads) {
  LaneSums sums(net);
  const double total = run_blocks(atlas, index, rows, net, range, grad_atlas, sums);
  for (int i = 0; i < net.layers; ++i) {
    reduce_into(sums.weight[i], grads.weight[i]);
    reduce_into(sums.bias[i], grads.bias[i]);
  }
  if (net.layers > 0) reduce_into(sums.out_weight, grads.out_weight);
  reduce_into(sums.out_bias, grads.out_bias);
  reduce_into(sums.stabiliser, grads.stabiliser);
  return total;
}

}  // namespace codec::overfit
