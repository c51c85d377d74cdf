// Python binding of the rANS core (module codec.entropy._rans).
//
// Thin by design: arrays are taken as C-contiguous int32 buffers (converted
// if needed), the GIL is released around all coding work, and the two C++
// error kinds become ValueError and codec.errors.CorruptStreamError. The
// Python-facing API with documentation lives in codec/entropy/rans.py.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "rans/cuda/rans_simt_emulator.hpp"
#include "rans/rans_coder.hpp"

// Set by CMakeLists.txt: how this build decided about the CUDA coder.
#ifndef CODEC_CUDA_OPTION
#define CODEC_CUDA_OPTION "unknown"
#endif
#ifndef CODEC_CUDA_BUILT
#define CODEC_CUDA_BUILT 0
#endif
#ifndef CODEC_CUDA_NOTE
#define CODEC_CUDA_NOTE ""
#endif

namespace py = pybind11;
using codec::rans::RansTables;

namespace {

using IntArray = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>;

void require_1d(const IntArray& a, const char* name) {
  if (a.ndim() != 1) throw codec::rans::UsageError(std::string(name) + " must be one-dimensional");
}

RansTables make_tables(const IntArray& cdfs, const IntArray& cdf_lengths, const IntArray& offsets,
                       int precision) {
  if (cdfs.ndim() != 2) throw codec::rans::UsageError("cdfs must be a 2-D array [tables, max_length]");
  require_1d(cdf_lengths, "cdf_lengths");
  require_1d(offsets, "offsets");
  const auto tables = static_cast<std::size_t>(cdfs.shape(0));
  if (static_cast<std::size_t>(cdf_lengths.shape(0)) != tables ||
      static_cast<std::size_t>(offsets.shape(0)) != tables) {
    throw codec::rans::UsageError("cdfs, cdf_lengths and offsets must have the same number of tables");
  }
  return RansTables(cdfs.data(), tables, static_cast<std::size_t>(cdfs.shape(1)), cdf_lengths.data(),
                    offsets.data(), precision);
}

py::bytes encode(const RansTables& tables, const IntArray& values, const IntArray& indexes,
                 int lanes, std::uint64_t substream_size, int threads) {
  require_1d(values, "symbols");
  require_1d(indexes, "indexes");
  if (values.shape(0) != indexes.shape(0)) {
    throw codec::rans::UsageError("symbols and indexes must have the same length");
  }
  std::vector<std::uint8_t> out;
  {
    py::gil_scoped_release release;
    out = codec::rans::encode(tables, values.data(), indexes.data(),
                              static_cast<std::size_t>(values.shape(0)),
                              codec::rans::EncodeOptions{lanes, substream_size, threads});
  }
  return py::bytes(reinterpret_cast<const char*>(out.data()), out.size());
}

py::array_t<std::int32_t> decode(const RansTables& tables, const py::buffer& data,
                                 const IntArray& indexes, int threads) {
  require_1d(indexes, "indexes");
  const py::buffer_info info = data.request();
  if (info.ndim != 1 || info.itemsize != 1 || info.strides[0] != 1) {
    throw codec::rans::UsageError("data must be a contiguous bytes-like object");
  }
  const auto count = static_cast<std::size_t>(indexes.shape(0));
  py::array_t<std::int32_t> out(static_cast<py::ssize_t>(count));
  {
    py::gil_scoped_release release;
    codec::rans::decode(tables, static_cast<const std::uint8_t*>(info.ptr),
                        static_cast<std::size_t>(info.size), indexes.data(), count,
                        out.mutable_data(), threads);
  }
  return out;
}

// The SIMT coder (the CUDA coder's code) run by the host warp emulator; for tests.
py::bytes simt_encode(const RansTables& tables, const IntArray& values, const IntArray& indexes,
                      int lanes, std::uint64_t substream_size) {
  require_1d(values, "symbols");
  require_1d(indexes, "indexes");
  if (values.shape(0) != indexes.shape(0)) {
    throw codec::rans::UsageError("symbols and indexes must have the same length");
  }
  std::vector<std::uint8_t> out;
  {
    py::gil_scoped_release release;
    out = codec::rans::simt::emulated_encode(tables, values.data(), indexes.data(),
                                             static_cast<std::size_t>(values.shape(0)), lanes,
                                             substream_size);
  }
  return py::bytes(reinterpret_cast<const char*>(out.data()), out.size());
}

py::array_t<std::int32_t> simt_decode(const RansTables& tables, const py::buffer& data,
                                      const IntArray& indexes, bool payload_on_device) {
  require_1d(indexes, "indexes");
  const py::buffer_info info = data.request();
  if (info.ndim != 1 || info.itemsize != 1 || info.strides[0] != 1) {
    throw codec::rans::UsageError("data must be a contiguous bytes-like object");
  }
  const auto count = static_cast<std::size_t>(indexes.shape(0));
  py::array_t<std::int32_t> out(static_cast<py::ssize_t>(count));
  {
    py::gil_scoped_release release;
    codec::rans::simt::emulated_decode(tables, static_cast<const std::uint8_t*>(info.ptr),
                                       static_cast<std::size_t>(info.size), payload_on_device,
                                       indexes.data(), count, out.mutable_data());
  }
  return out;
}

void translate_corrupt_stream(std::exception_ptr error) {
  try {
    if (error) std::rethrow_exception(error);
  } catch (const codec::rans::CorruptStream& e) {
    try {
      const py::object cls = py::module_::import("codec.errors").attr("CorruptStreamError");
      const py::object exc = cls(e.what(), py::arg("offset") = e.offset());
      PyErr_SetObject(cls.ptr(), exc.ptr());
    } catch (py::error_already_set& import_error) {
      import_error.restore();
    }
  }
}

}  // namespace

PYBIND11_MODULE(_rans, m) {
  m.doc() = "rANS entropy coder core; use codec.entropy.rans instead of this module.";
  py::register_exception_translator(&translate_corrupt_stream);

  py::class_<RansTables>(m, "Tables")
      .def(py::init(&make_tables), py::arg("cdfs"), py::arg("cdf_lengths"), py::arg("offsets"),
           py::arg("precision"))
      .def_property_readonly("num_tables", &RansTables::num_tables)
      .def_property_readonly("precision", &RansTables::precision)
      .def_property_readonly("max_length", &RansTables::max_length);

  m.def("encode", &encode, py::arg("tables"), py::arg("symbols"), py::arg("indexes"),
        py::arg("lanes"), py::arg("substream_size"), py::arg("threads"));
  m.def("decode", &decode, py::arg("tables"), py::arg("data"), py::arg("indexes"),
        py::arg("threads"));

  m.attr("simt_emulator") = codec::rans::simt::emulator_available();
  m.def("simt_encode", &simt_encode, py::arg("tables"), py::arg("symbols"), py::arg("indexes"),
        py::arg("lanes"), py::arg("substream_size"));
  m.def("simt_decode", &simt_decode, py::arg("tables"), py::arg("data"), py::arg("indexes"),
        py::arg("payload_on_device") = false);

  py::dict build;
  build["cuda_option"] = CODEC_CUDA_OPTION;
  build["cuda_built"] = static_cast<bool>(CODEC_CUDA_BUILT);
  build["cuda_note"] = CODEC_CUDA_NOTE;
  m.attr("build_info") = build;
}
