// Python binding of the overfitted family's latent coding kernel (codec.models.image.overfit._overfit).
//
// One Kernel object holds a decoded context model, the grid layout rules and
// the CDF tables; `parameters` serves the encoder, `decode` the decoder. The
// GIL is released around the work; a corrupt block becomes
// codec.errors.CorruptStreamError. The Python side is
// codec/models/image/overfit/latent_coding.py.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <tuple>
#include <vector>

#include "arm_coder.hpp"
#include "arm_fit.hpp"

namespace py = pybind11;
namespace of = codec::overfit;

namespace {

using I32 = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>;
using I64 = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;
using LayerSpec = std::tuple<I64, I64, int>;  // weight [out, in], bias [out], shift
using F32 = py::array_t<float, py::array::c_style | py::array::forcecast>;

of::Linear make_linear(const LayerSpec& spec, int expected_in) {
  const auto& [weight, bias, shift] = spec;
  if (weight.ndim() != 2 || bias.ndim() != 1 || bias.shape(0) != weight.shape(0)) {
    throw std::invalid_argument("a layer needs weight [out, in] and bias [out]");
  }
  of::Linear layer;
  layer.out = static_cast<int>(weight.shape(0));
  layer.in = static_cast<int>(weight.shape(1));
  if (expected_in >= 0 && layer.in != expected_in) throw std::invalid_argument("layer input width mismatch");
  layer.weight.assign(weight.data(), weight.data() + weight.size());
  layer.bias.assign(bias.data(), bias.data() + bias.size());
  layer.shift = shift;
  return layer;
}

void offsets_into(const I32& offsets, std::vector<int>& dy, std::vector<int>& dx, const char* name) {
  if (offsets.ndim() != 2 || offsets.shape(1) != 2) throw std::invalid_argument(std::string(name) + " must be [n, 2]");
  for (py::ssize_t i = 0; i < offsets.shape(0); ++i) {
    dy.push_back(offsets.at(i, 0));
    dx.push_back(offsets.at(i, 1));
  }
}

class Kernel {
 public:
  Kernel(const std::vector<LayerSpec>& hidden, const LayerSpec& out, const LayerSpec& stabiliser, int fraction,
         const I32& context_offsets, const I32& coarse_offsets, const I64& thresholds, int phase_bits,
         int latent_limit, const I32& cdfs, const I32& lengths, const I32& offsets, int precision)
      : cdfs_(cdfs), lengths_(lengths), offsets_(offsets) {
    offsets_into(context_offsets, layout_.context_dy, layout_.context_dx, "context_offsets");
    offsets_into(coarse_offsets, layout_.coarse_dy, layout_.coarse_dx, "coarse_offsets");
    for (int dy : layout_.context_dy) {
      if (dy > 0) throw std::invalid_argument("context offsets must be causal");
    }
    const int inputs = static_cast<int>(layout_.context_dy.size() + layout_.coarse_dy.size());
    int width = inputs;
    for (const auto& spec : hidden) {
      model_.hidden.push_back(make_linear(spec, width));
      width = model_.hidden.back().out;
    }
    model_.out = make_linear(out, hidden.empty() ? -1 : width);
    model_.stabiliser = make_linear(stabiliser, inputs);
    if (model_.stabiliser.out != 2 || (!hidden.empty() && model_.out.out != 2)) {
      throw std::invalid_argument("the context model has two outputs");
    }
    model_.fraction = fraction;
    if (thresholds.ndim() != 1) throw std::invalid_argument("thresholds must be one-dimensional");
    layout_.thresholds.assign(thresholds.data(), thresholds.data() + thresholds.size());
    layout_.phase_bits = phase_bits;
    layout_.latent_limit = latent_limit;
    if (cdfs.ndim() != 2 || lengths.ndim() != 1 || offsets.ndim() != 1 || lengths.shape(0) != cdfs.shape(0) ||
        offsets.shape(0) != cdfs.shape(0)) {
      throw std::invalid_argument("tables need cdfs [T, L], lengths [T] and offsets [T]");
    }
    tables_.cdfs = cdfs_.data();
    tables_.count = static_cast<std::size_t>(cdfs.shape(0));
    tables_.stride = static_cast<std::size_t>(cdfs.shape(1));
    tables_.lengths = lengths_.data();
    tables_.offsets = offsets_.data();
    tables_.precision = precision;
    if (tables_.count != (layout_.thresholds.size() + 1) << phase_bits) {
      throw std::invalid_argument("table count must be (thresholds + 1) * 2^phase_bits");
    }
    for (std::size_t t = 0; t < tables_.count; ++t) {
      if (tables_.lengths[t] < 2 || static_cast<std::size_t>(tables_.lengths[t]) > tables_.stride) {
        throw std::invalid_argument("invalid table length");
      }
    }
  }

  std::tuple<py::array_t<std::int32_t>, py::array_t<std::int32_t>> parameters(const std::vector<I32>& grids) {
    std::vector<const std::int32_t*> ptrs;
    std::size_t total = 0;
    for (const auto& grid : grids) {
      if (grid.ndim() != 2) throw std::invalid_argument("grids must be 2-D");
      ptrs.push_back(grid.data());
      total += static_cast<std::size_t>(grid.size());
    }
    set_shapes(grids.size(), [&](std::size_t g) { return std::make_pair(grids[g].shape(0), grids[g].shape(1)); });
    py::array_t<std::int32_t> indexes(static_cast<py::ssize_t>(total)), bases(static_cast<py::ssize_t>(total));
    {
      py::gil_scoped_release release;
      of::parameters(model_, layout_, ptrs, indexes.mutable_data(), bases.mutable_data());
    }
    return {indexes, bases};
  }

  std::vector<py::array_t<std::int32_t>> decode(const py::buffer& data, const std::vector<std::pair<int, int>>& shapes) {
    const py::buffer_info info = data.request();
    if (info.ndim != 1 || info.itemsize != 1 || info.strides[0] != 1) {
      throw std::invalid_argument("data must be a contiguous bytes-like object");
    }
    set_shapes(shapes.size(), [&](std::size_t g) { return shapes[g]; });
    std::vector<py::array_t<std::int32_t>> grids;
    std::vector<std::int32_t*> ptrs;
    for (const auto& [h, w] : shapes) {
      grids.emplace_back(std::vector<py::ssize_t>{h, w});
      ptrs.push_back(grids.back().mutable_data());
    }
    {
      py::gil_scoped_release release;
      of::decode(model_, layout_, tables_, static_cast<const std::uint8_t*>(info.ptr),
                 static_cast<std::size_t>(info.size), ptrs);
    }
    return grids;
  }

 private:
  template <typename F>
  void set_shapes(std::size_t count, F&& shape_of) {
    layout_.heights.clear();
    layout_.widths.clear();
    for (std::size_t g = 0; g < count; ++g) {
      const auto [h, w] = shape_of(g);
      if (h < 1 || w < 1) throw std::invalid_argument("grid sizes must be positive");
      if (g > 0 && (h != (layout_.heights[g - 1] + 1) / 2 || w != (layout_.widths[g - 1] + 1) / 2)) {
        throw std::invalid_argument("each grid must halve the previous one (rounded up)");
      }
      layout_.heights.push_back(static_cast<int>(h));
      layout_.widths.push_back(static_cast<int>(w));
    }
  }

  of::ContextModel model_;
  of::Layout layout_;
  I32 cdfs_, lengths_, offsets_;
  of::Tables tables_;
};

void translate_corrupt_block(std::exception_ptr error) {
  try {
    if (error) std::rethrow_exception(error);
  } catch (const of::CorruptBlock& e) {
    try {
      const py::object cls = py::module_::import("codec.errors").attr("CorruptStreamError");
      const py::object exc = cls(e.what(), py::arg("offset") = e.offset());
      PyErr_SetObject(cls.ptr(), exc.ptr());
    } catch (py::error_already_set& import_error) {
      import_error.restore();
    }
  }
}

// rate_gradients(atlas, index, hidden, out_weight, out_bias, stabiliser, log_scale_offset, log_min, log_max)
// -> (total bits, d total / d atlas, [(d weight, d bias) per hidden layer], d out_weight, d out_bias,
//     d stabiliser): the fitting-time rate of arm_fit.hpp.
py::tuple rate_gradients(const F32& atlas, const I32& index, const std::vector<std::pair<F32, F32>>& hidden,
                         const F32& out_weight, const F32& out_bias, const F32& stabiliser, float log_scale_offset,
                         float log_min, float log_max) {
  if (index.ndim() != 2) throw std::invalid_argument("index must be [rows, inputs]");
  const auto rows = index.shape(0);
  const auto inputs = static_cast<int>(index.shape(1));
  const int layers = static_cast<int>(hidden.size());
  const int width = layers ? static_cast<int>(hidden[0].first.shape(0)) : 0;
  if (inputs > of::kFitMaxInputs || width > of::kFitMaxHidden || layers > of::kFitMaxLayers) {
    throw std::invalid_argument("context model too large for the fitting kernel");
  }
  if (atlas.ndim() != 1 || atlas.shape(0) < rows) throw std::invalid_argument("atlas must hold every row");
  const std::int32_t* idx = index.data();
  for (py::ssize_t i = 0; i < index.size(); ++i) {
    if (idx[i] < 0 || idx[i] >= atlas.shape(0)) throw std::invalid_argument("index outside the atlas");
  }
  auto check = [](const F32& a, py::ssize_t n, const char* name) {
    if (a.size() != n) throw std::invalid_argument(std::string(name) + " has the wrong size");
  };
  of::FitNet net;
  net.inputs = inputs;
  net.hidden = width;
  net.layers = layers;
  std::vector<F32> grad_w, grad_b;
  of::FitGrads grads;
  for (int i = 0; i < layers; ++i) {
    check(hidden[i].first, static_cast<py::ssize_t>(width) * (i == 0 ? inputs : width), "a hidden weight");
    check(hidden[i].second, width, "a hidden bias");
    net.weight[i] = hidden[i].first.data();
    net.bias[i] = hidden[i].second.data();
    grad_w.emplace_back(std::vector<py::ssize_t>{hidden[i].first.size()});
    grad_b.emplace_back(std::vector<py::ssize_t>{width});
  }
  check(out_weight, layers ? 2 * width : out_weight.size(), "out_weight");
  check(out_bias, 2, "out_bias");
  check(stabiliser, 2 * inputs, "stabiliser");
  net.out_weight = out_weight.data();
  net.out_bias = out_bias.data();
  net.stabiliser = stabiliser.data();
  F32 grad_atlas(atlas.shape(0)), grad_out_w(out_weight.size()), grad_out_b(2), grad_stab(stabiliser.size());
  for (F32* a : {&grad_atlas, &grad_out_w, &grad_out_b, &grad_stab}) std::fill_n(a->mutable_data(), a->size(), 0.0f);
  for (int i = 0; i < layers; ++i) {
    std::fill_n(grad_w[i].mutable_data(), grad_w[i].size(), 0.0f);
    std::fill_n(grad_b[i].mutable_data(), grad_b[i].size(), 0.0f);
    grads.weight[i] = grad_w[i].mutable_data();
    grads.bias[i] = grad_b[i].mutable_data();
  }
  grads.out_weight = grad_out_w.mutable_data();
  grads.out_bias = grad_out_b.mutable_data();
  grads.stabiliser = grad_stab.mutable_data();
  double total;
  {
    py::gil_scoped_release release;
    total = of::rate_gradients(atlas.data(), idx, rows, net, {log_scale_offset, log_min, log_max},
                               grad_atlas.mutable_data(), grads);
  }
  py::list layer_grads;
  for (int i = 0; i < layers; ++i) layer_grads.append(py::make_tuple(grad_w[i], grad_b[i]));
  return py::make_tuple(total, grad_atlas, layer_grads, grad_out_w, grad_out_b, grad_stab);
}

}  // namespace

PYBIND11_MODULE(_overfit, m) {
  m.doc() = "Latent coding kernel of the overfitted image family (see codec/models/image/overfit).";
  py::register_exception_translator(&translate_corrupt_block);
  py::class_<Kernel>(m, "Kernel")
      .def(py::init<const std::vector<LayerSpec>&, const LayerSpec&, const LayerSpec&, int, const I32&, const I32&,
                    const I64&, int, int, const I32&, const I32&, const I32&, int>(),
           py::arg("hidden"), py::arg("out"), py::arg("stabiliser"), py::arg("fraction"),
           py::arg("context_offsets"), py::arg("coarse_offsets"), py::arg("thresholds"), py::arg("phase_bits"),
           py::arg("latent_limit"), py::arg("cdfs"), py::arg("lengths"), py::arg("offsets"), py::arg("precision"))
      .def("parameters", &Kernel::parameters, py::arg("grids"))
      .def("decode", &Kernel::decode, py::arg("data"), py::arg("shapes"));
  m.def("rate_gradients", &rate_gradients, py::arg("atlas"), py::arg("index"), py::arg("hidden"),
        py::arg("out_weight"), py::arg("out_bias"), py::arg("stabiliser"), py::arg("log_scale_offset"),
        py::arg("log_min"), py::arg("log_max"));
}
