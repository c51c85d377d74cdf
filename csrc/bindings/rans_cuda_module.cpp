// Python binding of the CUDA rANS coder (module codec.entropy._rans_cuda).
//
// Built only with CODEC_WITH_CUDA, and imported only on demand by
// codec/entropy/cuda.py, which holds the documented API. Device buffers
// cross this boundary as raw pointers (the Python side reads them from the
// CUDA array interface or DLPack) or as DeviceArray, this module's own
// device buffer, which exports both protocols; no framework is linked.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "rans/cuda/rans_cuda.hpp"
#include "rans/rans_errors.hpp"

namespace py = pybind11;
namespace cuda = codec::rans::cuda;
using codec::rans::RansTables;
using codec::rans::UsageError;

namespace {

// The DLPack ABI (dlpack.h, version 0.x "dltensor" capsules), spelled out
// here so that the module needs no header from any framework.
struct DLDevice {
  std::int32_t device_type;
  std::int32_t device_id;
};
struct DLDataType {
  std::uint8_t code;
  std::uint8_t bits;
  std::uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  std::int32_t ndim;
  DLDataType dtype;
  std::int64_t* shape;
  std::int64_t* strides;
  std::uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};
constexpr std::int32_t kDLCUDA = 2;
constexpr std::uint8_t kDLInt = 0;
constexpr std::uint8_t kDLUInt = 1;

using IntArray = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>;

// A C-contiguous int32 or uint8 array in device memory.
class DeviceArray {
 public:
  DeviceArray(cuda::Allocation memory, std::vector<std::int64_t> shape, bool int32)
      : memory_(std::move(memory)), shape_(std::move(shape)), int32_(int32) {}

  std::uintptr_t ptr() const { return reinterpret_cast<std::uintptr_t>(memory_.ptr); }
  std::size_t nbytes() const { return size() * itemsize(); }
  std::size_t size() const {
    std::size_t n = 1;
    for (const auto d : shape_) n *= static_cast<std::size_t>(d);
    return n;
  }
  std::size_t itemsize() const { return int32_ ? 4 : 1; }
  int device() const { return memory_.device; }
  const char* typestr() const { return int32_ ? "<i4" : "|u1"; }
  const char* dtype() const { return int32_ ? "int32" : "uint8"; }
  py::tuple shape() const {
    py::tuple t(shape_.size());
    for (std::size_t i = 0; i < shape_.size(); ++i) t[i] = shape_[i];
    return t;
  }
  const cuda::Allocation& memory() const { return memory_; }
  const std::vector<std::int64_t>& dims() const { return shape_; }
  bool int32() const { return int32_; }

 private:
  cuda::Allocation memory_;
  std::vector<std::int64_t> shape_;
  bool int32_;
};

// What a DLPack capsule made by us keeps alive.
struct Export {
  DLManagedTensor tensor{};
  cuda::Allocation memory;
  std::vector<std::int64_t> shape;
};

void delete_export(DLManagedTensor* t) { delete static_cast<Export*>(t->manager_ctx); }

void capsule_destructor(PyObject* capsule) {
  // A capsule still named "dltensor" was never consumed: free it here.
  if (PyCapsule_IsValid(capsule, "dltensor")) {
    auto* t = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
    if (t != nullptr && t->deleter != nullptr) t->deleter(t);
  }
}

py::object to_dlpack(const DeviceArray& a, const py::object& stream, const py::object& max_version,
                     const py::object& dl_device, const py::object& copy) {
  (void)stream;  // our results are complete when the call that made them returns
  (void)max_version;  // a "dltensor" capsule is what every consumer accepts
  if (!copy.is_none() && copy.cast<bool>()) throw py::buffer_error("DeviceArray does not copy on export");
  if (!dl_device.is_none()) {
    const auto wanted = dl_device.cast<std::pair<int, int>>();
    if (wanted.first != kDLCUDA || wanted.second != a.device()) {
      throw py::buffer_error("DeviceArray can only be exported to its own device");
    }
  }
  auto* e = new Export;
  e->memory = a.memory();
  e->shape = a.dims();
  DLTensor& t = e->tensor.dl_tensor;
  t.data = e->memory.ptr;
  t.device = DLDevice{kDLCUDA, a.device()};
  t.ndim = static_cast<std::int32_t>(e->shape.size());
  t.dtype = a.int32() ? DLDataType{kDLInt, 32, 1} : DLDataType{kDLUInt, 8, 1};
  t.shape = e->shape.data();
  t.strides = nullptr;  // C-contiguous
  t.byte_offset = 0;
  e->tensor.manager_ctx = e;
  e->tensor.deleter = &delete_export;
  PyObject* capsule = PyCapsule_New(&e->tensor, "dltensor", &capsule_destructor);
  if (capsule == nullptr) {
    delete e;
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::object>(capsule);
}

// Reads a "dltensor" capsule made by another library. The capsule keeps
// the memory alive while the caller holds it; it is not consumed here.
py::dict dlpack_view(const py::capsule& capsule) {
  if (!PyCapsule_IsValid(capsule.ptr(), "dltensor")) {
    throw UsageError("not an unconsumed DLPack capsule (\"dltensor\")");
  }
  const auto* m = static_cast<const DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
  const DLTensor& t = m->dl_tensor;
  py::dict out;
  out["ptr"] = reinterpret_cast<std::uintptr_t>(static_cast<const char*>(t.data) + t.byte_offset);
  out["device_type"] = t.device.device_type;
  out["device_id"] = t.device.device_id;
  out["code"] = t.dtype.code;
  out["bits"] = t.dtype.bits;
  out["lanes"] = t.dtype.lanes;
  py::tuple shape(t.ndim);
  for (std::int32_t i = 0; i < t.ndim; ++i) shape[i] = t.shape[i];
  out["shape"] = shape;
  if (t.strides == nullptr) {
    out["strides"] = py::none();
  } else {
    py::tuple strides(t.ndim);
    for (std::int32_t i = 0; i < t.ndim; ++i) strides[i] = t.strides[i];
    out["strides"] = strides;
  }
  return out;
}

std::vector<std::int64_t> shape_of(const py::object& shape) {
  std::vector<std::int64_t> dims;
  if (py::isinstance<py::int_>(shape)) {
    dims.push_back(shape.cast<std::int64_t>());
  } else {
    for (const auto& d : shape) dims.push_back(d.cast<std::int64_t>());
  }
  for (const auto d : dims) {
    if (d < 0) throw UsageError("array dimensions must not be negative");
  }
  return dims;
}

DeviceArray empty(const py::object& shape, const std::string& dtype, int device) {
  if (dtype != "int32" && dtype != "uint8") throw UsageError("dtype must be 'int32' or 'uint8'");
  const bool int32 = dtype == "int32";
  std::vector<std::int64_t> dims = shape_of(shape);
  std::size_t n = int32 ? 4 : 1;
  for (const auto d : dims) n *= static_cast<std::size_t>(d);
  return DeviceArray(cuda::allocate(n, device), std::move(dims), int32);
}

DeviceArray from_host(const py::array& host, int device) {
  const bool int32 = host.dtype().is(py::dtype::of<std::int32_t>());
  if (!int32 && !host.dtype().is(py::dtype::of<std::uint8_t>())) {
    throw UsageError("from_host takes int32 or uint8 arrays");
  }
  const py::array contiguous = py::array::ensure(host, py::array::c_style);
  std::vector<std::int64_t> dims(contiguous.shape(), contiguous.shape() + contiguous.ndim());
  DeviceArray out(cuda::allocate(static_cast<std::size_t>(contiguous.nbytes()), device), std::move(dims), int32);
  cuda::copy_to_device(out.memory().ptr, contiguous.data(), static_cast<std::size_t>(contiguous.nbytes()), device);
  return out;
}

py::array to_numpy(const DeviceArray& a) {
  std::vector<py::ssize_t> dims(a.dims().begin(), a.dims().end());
  py::array out = a.int32() ? py::array(py::dtype::of<std::int32_t>(), dims)
                            : py::array(py::dtype::of<std::uint8_t>(), dims);
  cuda::copy_to_host(out.mutable_data(), a.memory().ptr, a.nbytes(), a.device());
  return out;
}

py::bytes to_bytes(const DeviceArray& a) {
  py::bytes out(nullptr, a.nbytes());
  cuda::copy_to_host(PyBytes_AsString(out.ptr()), a.memory().ptr, a.nbytes(), a.device());
  return out;
}

std::unique_ptr<cuda::Tables> make_tables(const IntArray& cdfs, const IntArray& cdf_lengths,
                                          const IntArray& offsets, int precision, int device) {
  if (cdfs.ndim() != 2) throw UsageError("cdfs must be a 2-D array [tables, max_length]");
  if (cdf_lengths.ndim() != 1 || offsets.ndim() != 1) throw UsageError("cdf_lengths and offsets must be 1-D");
  const auto n = static_cast<std::size_t>(cdfs.shape(0));
  if (static_cast<std::size_t>(cdf_lengths.shape(0)) != n || static_cast<std::size_t>(offsets.shape(0)) != n) {
    throw UsageError("cdfs, cdf_lengths and offsets must have the same number of tables");
  }
  const RansTables host(cdfs.data(), n, static_cast<std::size_t>(cdfs.shape(1)), cdf_lengths.data(),
                        offsets.data(), precision);
  return std::make_unique<cuda::Tables>(host, device);
}

template <typename T>
T* as_pointer(std::uintptr_t p) {
  return reinterpret_cast<T*>(p);
}

DeviceArray encode(const cuda::Tables& tables, std::uintptr_t values, std::uintptr_t indexes,
                   std::uint64_t count, int lanes, std::uint64_t substream_size) {
  cuda::Allocation payload;
  {
    py::gil_scoped_release release;
    payload = cuda::encode(tables, as_pointer<const std::int32_t>(values), as_pointer<const std::int32_t>(indexes),
                           count, lanes, substream_size);
  }
  const auto bytes = static_cast<std::int64_t>(payload.bytes);
  return DeviceArray(std::move(payload), {bytes}, false);
}

// data is a bytes-like object in host memory, or None with data_ptr a
// device pointer to data_size bytes.
void decode(const cuda::Tables& tables, const py::object& data, std::uintptr_t data_ptr, std::uint64_t data_size,
            std::uintptr_t indexes, std::uint64_t count, std::uintptr_t out) {
  const bool on_device = data.is_none();
  py::buffer_info info;
  const std::uint8_t* payload = as_pointer<const std::uint8_t>(data_ptr);
  std::uint64_t size = data_size;
  if (!on_device) {
    info = py::reinterpret_borrow<py::buffer>(data).request();
    if (info.ndim != 1 || info.itemsize != 1 || info.strides[0] != 1) {
      throw UsageError("data must be a contiguous bytes-like object");
    }
    payload = static_cast<const std::uint8_t*>(info.ptr);
    size = static_cast<std::uint64_t>(info.size);
  }
  py::gil_scoped_release release;
  cuda::decode(tables, payload, on_device, size, as_pointer<const std::int32_t>(indexes), count,
               as_pointer<std::int32_t>(out));
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

PYBIND11_MODULE(_rans_cuda, m) {
  m.doc() = "CUDA rANS coder; use codec.entropy.cuda instead of this module.";
  py::register_exception_translator(&translate_corrupt_stream);

  m.def("status", [] {
    const cuda::Status s = cuda::status();
    py::dict out;
    out["devices"] = s.devices;
    out["error"] = s.error;
    out["runtime_version"] = s.runtime_version;
    out["driver_version"] = s.driver_version;
    return out;
  });
  m.def("device_name", &cuda::device_name, py::arg("device"));
  m.def("pointer_device", [](std::uintptr_t p) { return cuda::pointer_device(reinterpret_cast<const void*>(p)); },
        py::arg("ptr"));
  m.def("wait_for_stream", &cuda::wait_for_stream, py::arg("stream"), py::arg("device"));
  m.def("dlpack_view", &dlpack_view, py::arg("capsule"));

  py::class_<cuda::Tables>(m, "Tables")
      .def(py::init(&make_tables), py::arg("cdfs"), py::arg("cdf_lengths"), py::arg("offsets"),
           py::arg("precision"), py::arg("device"))
      .def_property_readonly("device", &cuda::Tables::device)
      .def_property_readonly("precision", &cuda::Tables::precision)
      .def_property_readonly("num_tables", &cuda::Tables::num_tables);

  py::class_<DeviceArray>(m, "DeviceArray")
      .def_property_readonly("ptr", &DeviceArray::ptr)
      .def_property_readonly("nbytes", &DeviceArray::nbytes)
      .def_property_readonly("size", &DeviceArray::size)
      .def_property_readonly("shape", &DeviceArray::shape)
      .def_property_readonly("dtype", &DeviceArray::dtype)
      .def_property_readonly("device", &DeviceArray::device)
      .def("__len__", [](const DeviceArray& a) { return a.dims().empty() ? 0 : a.dims()[0]; })
      .def("to_numpy", &to_numpy)
      .def("to_bytes", &to_bytes)
      .def_property_readonly("__cuda_array_interface__",
                             [](const DeviceArray& a) {
                               py::dict d;
                               d["shape"] = a.shape();
                               d["typestr"] = a.typestr();
                               d["data"] = py::make_tuple(a.ptr(), false);
                               d["strides"] = py::none();
                               d["stream"] = py::none();  // complete: nothing to wait for
                               d["version"] = 3;
                               return d;
                             })
      .def("__dlpack__", &to_dlpack, py::kw_only(), py::arg("stream") = py::none(),
           py::arg("max_version") = py::none(), py::arg("dl_device") = py::none(), py::arg("copy") = py::none())
      .def("__dlpack_device__", [](const DeviceArray& a) { return py::make_tuple(kDLCUDA, a.device()); })
      .def("__repr__", [](const DeviceArray& a) {
        std::string shape;
        for (const auto d : a.dims()) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
        return "DeviceArray(shape=(" + shape + (a.dims().size() == 1 ? ",)" : ")") + ", dtype=" + a.dtype() +
               ", device=cuda:" + std::to_string(a.device()) + ")";
      });

  m.def("empty", &empty, py::arg("shape"), py::arg("dtype"), py::arg("device"));
  m.def("from_host", &from_host, py::arg("array"), py::arg("device"));
  m.def("encode", &encode, py::arg("tables"), py::arg("values"), py::arg("indexes"), py::arg("count"),
        py::arg("lanes"), py::arg("substream_size"));
  m.def("decode", &decode, py::arg("tables"), py::arg("data"), py::arg("data_ptr"), py::arg("data_size"),
        py::arg("indexes"), py::arg("count"), py::arg("out"));
}
