// The CUDA backend of the SIMT coder: device memory, copies and launches for
// the driver (rans_simt_driver.hpp), whose bodies (rans_simt.hpp) run here
// with the warp intrinsics.

#include "rans/cuda/rans_cuda.hpp"

#include <cuda_runtime.h>

#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

#include "rans/cuda/rans_simt_driver.hpp"

namespace codec::rans::cuda {
namespace {

using simt::kWarpSize;

constexpr unsigned kBlockThreads = 128;

[[noreturn]] void fail(cudaError_t error, const char* what) {
  throw std::runtime_error(std::string("CUDA ") + what + " failed: " + cudaGetErrorString(error));
}

void check(cudaError_t error, const char* what) {
  if (error != cudaSuccess) fail(error, what);
}

// Makes device current for a scope.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    check(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != device) check(cudaSetDevice(device), "cudaSetDevice");
    changed_ = previous_ != device;
  }
  ~DeviceScope() {
    if (changed_) cudaSetDevice(previous_);
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
  bool changed_ = false;
};

struct DeviceWarp {
  __device__ std::uint32_t lane() const { return threadIdx.x % kWarpSize; }
  __device__ std::uint32_t ballot(bool p) const { return __ballot_sync(simt::kFullMask, p); }
  __device__ std::uint32_t shfl(std::uint32_t v, std::uint32_t from) const {
    return __shfl_sync(simt::kFullMask, v, static_cast<int>(from));
  }
  __device__ std::uint64_t shfl(std::uint64_t v, std::uint32_t from) const {
    return __shfl_sync(simt::kFullMask, static_cast<unsigned long long>(v), static_cast<int>(from));
  }
  __device__ void atomic_min(std::uint64_t* p, std::uint64_t v) const {
    atomicMin(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
  }
};

// Whole warps only: blocks hold whole warps, and a warp past the end leaves
// as a whole.
template <class Body>
__global__ void __launch_bounds__(kBlockThreads) warp_kernel(Body body, std::uint64_t warps) {
  const std::uint64_t warp =
      (static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / kWarpSize;
  if (warp >= warps) return;
  DeviceWarp w;
  body(w, warp);
}

void free_async(void* p, int device) {
  int previous = 0;
  if (cudaGetDevice(&previous) != cudaSuccess) return;
  if (previous != device) cudaSetDevice(device);
  cudaFreeAsync(p, nullptr);
  if (previous != device) cudaSetDevice(previous);
}

void free_sync(void* p, int device) {
  int previous = 0;
  if (cudaGetDevice(&previous) != cudaSuccess) return;
  if (previous != device) cudaSetDevice(device);
  cudaFree(p);
  if (previous != device) cudaSetDevice(previous);
}

// This coder's own stream-ordered memory pool on a device (nullptr where
// pools are not supported): scratch memory is reused across calls instead of
// being mapped and unmapped each time, up to a cached GiB, and other users
// of the device's default pool are left alone.
cudaMemPool_t scratch_pool(int device) {
  static std::mutex mutex;
  static std::map<int, cudaMemPool_t> pools;
  const std::lock_guard<std::mutex> lock(mutex);
  const auto found = pools.find(device);
  if (found != pools.end()) return found->second;
  cudaMemPool_t pool = nullptr;
  int supported = 0;
  if (cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, device) == cudaSuccess && supported) {
    cudaMemPoolProps props{};
    props.allocType = cudaMemAllocationTypePinned;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = device;
    if (cudaMemPoolCreate(&pool, &props) == cudaSuccess) {
      std::uint64_t keep = std::uint64_t{1} << 30;
      cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
    } else {
      pool = nullptr;
    }
  }
  cudaGetLastError();
  pools[device] = pool;
  return pool;
}

// The driver's Backend on the current device's legacy default stream.
class CudaBackend {
 public:
  class Buffer {
   public:
    Buffer() = default;
    explicit Buffer(Allocation a) : a_(std::move(a)) {}
    void* data() const { return a_.ptr; }
    const Allocation& allocation() const { return a_; }

   private:
    Allocation a_;
  };

  explicit CudaBackend(int device) : device_(device), pool_(scratch_pool(device)) {}

  // Scratch: from the pool where there is one, so that calls in a loop do
  // not pay cudaMalloc and cudaFree's synchronisation.
  Buffer alloc(std::size_t bytes) {
    if (pool_ == nullptr) return alloc_result(bytes);
    void* p = nullptr;
    check(cudaMallocFromPoolAsync(&p, bytes > 0 ? bytes : 1, pool_, nullptr), "cudaMallocFromPoolAsync");
    const int device = device_;
    return Buffer(Allocation{std::shared_ptr<void>(p, [device](void* q) { free_async(q, device); }), p, bytes, device_});
  }

  // Handed to the caller, who may free it from anywhere: plain cudaMalloc.
  Buffer alloc_result(std::size_t bytes) { return Buffer(allocate(bytes, device_)); }

  void to_device(void* dst, const void* src, std::size_t n) {
    check(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, nullptr), "copy to device");
  }
  void to_host(void* dst, const void* src, std::size_t n) {
    check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, nullptr), "copy to host");
    check(cudaStreamSynchronize(nullptr), "cudaStreamSynchronize");
  }
  void finish() { check(cudaStreamSynchronize(nullptr), "cudaStreamSynchronize"); }

  template <class Body>
  void launch(std::uint64_t warps, const Body& body) {
    if (warps == 0) return;
    const std::uint64_t blocks = (warps * kWarpSize + kBlockThreads - 1) / kBlockThreads;
    if (blocks > 0x7FFFFFFFull) throw std::runtime_error("CUDA rANS: too many substreams for one launch");
    warp_kernel<<<static_cast<unsigned>(blocks), kBlockThreads, 0, nullptr>>>(body, warps);
    check(cudaGetLastError(), "kernel launch");
  }

 private:
  int device_;
  cudaMemPool_t pool_;
};

}  // namespace

struct Tables::Impl {
  int device = 0;
  int precision = 0;
  std::size_t num_tables = 0;
  simt::DeviceTables<CudaBackend> tables;
};

Status status() noexcept {
  Status s;
  cudaRuntimeGetVersion(&s.runtime_version);
  if (cudaDriverGetVersion(&s.driver_version) != cudaSuccess) s.driver_version = 0;
  int devices = 0;
  const cudaError_t error = cudaGetDeviceCount(&devices);
  if (error != cudaSuccess) {
    s.error = cudaGetErrorString(error);
    cudaGetLastError();  // clear it
    devices = 0;
  } else if (devices == 0) {
    s.error = "no CUDA device";
  }
  s.devices = devices;
  return s;
}

std::string device_name(int device) {
  cudaDeviceProp props{};
  check(cudaGetDeviceProperties(&props, device), "cudaGetDeviceProperties");
  return props.name;
}

Allocation allocate(std::size_t bytes, int device) {
  const DeviceScope scope(device);
  void* p = nullptr;
  check(cudaMalloc(&p, bytes > 0 ? bytes : 1), "cudaMalloc");
  return Allocation{std::shared_ptr<void>(p, [device](void* q) { free_sync(q, device); }), p, bytes, device};
}

void copy_to_device(void* dst, const void* src, std::size_t bytes, int device) {
  if (bytes == 0) return;
  const DeviceScope scope(device);
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "copy to device");
}

void copy_to_host(void* dst, const void* src, std::size_t bytes, int device) {
  if (bytes == 0) return;
  const DeviceScope scope(device);
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "copy to host");
}

int pointer_device(const void* p) {
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, p) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  if (attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged) {
    return attributes.device;
  }
  return -1;
}

void wait_for_stream(std::uintptr_t stream, int device) {
  // Our work goes to the legacy default stream, which waits for the legacy
  // and per-thread default streams and every blocking stream by itself.
  if (stream <= 2) return;
  const DeviceScope scope(device);
  check(cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(stream)), "cudaStreamSynchronize");
}

Tables::Tables(const RansTables& tables, int device) : impl_(new Impl) {
  const DeviceScope scope(device);
  CudaBackend b(device);
  impl_->device = device;
  impl_->precision = tables.precision();
  impl_->num_tables = tables.num_tables();
  impl_->tables = simt::upload_tables(b, tables);
  b.finish();
}

Tables::~Tables() = default;
int Tables::device() const { return impl_->device; }
int Tables::precision() const { return impl_->precision; }
std::size_t Tables::num_tables() const { return impl_->num_tables; }

Allocation encode(const Tables& tables, const std::int32_t* values, const std::int32_t* indexes,
                  std::uint64_t count, int lanes, std::uint64_t substream_size) {
  const Tables::Impl& t = tables.impl();
  const DeviceScope scope(t.device);
  CudaBackend b(t.device);
  return simt::encode(b, t.tables, values, indexes, count, lanes, substream_size).allocation();
}

void decode(const Tables& tables, const std::uint8_t* payload, bool payload_on_device, std::uint64_t size,
            const std::int32_t* indexes, std::uint64_t count, std::int32_t* out) {
  const Tables::Impl& t = tables.impl();
  const DeviceScope scope(t.device);
  CudaBackend b(t.device);
  simt::decode(b, t.tables, payload, payload_on_device, size, indexes, count, out);
}

}  // namespace codec::rans::cuda
