// The CUDA rANS coder: the SIMT coder (rans_simt.hpp) on a CUDA device.
//
// Plain C++ interface (no CUDA headers), so that the Python binding is
// compiled by the host compiler. Symbols, indexes and outputs are device
// pointers; every function works on the legacy default stream of the given
// device and returns when its work is complete. CUDA failures throw
// std::runtime_error; bad arguments and corrupt payloads throw the CPU
// coder's UsageError and CorruptStream, with its messages and offsets.
//
// The runtime is linked statically and the driver is found at the first
// call, so loading this code never fails on a machine without one: status()
// says so instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "rans/rans_tables.hpp"

namespace codec::rans::cuda {

struct Status {
  int devices = 0;          // usable CUDA devices; 0 when none or no driver
  std::string error;        // why there is none, when devices == 0
  int runtime_version = 0;  // CUDA runtime this code was built with, e.g. 13000
  int driver_version = 0;   // 0 when there is no driver
};
Status status() noexcept;
std::string device_name(int device);

// Device memory from cudaMalloc, freed (cudaFree) with its last owner.
struct Allocation {
  std::shared_ptr<void> owner;
  void* ptr = nullptr;
  std::size_t bytes = 0;
  int device = 0;
};
Allocation allocate(std::size_t bytes, int device);
void copy_to_device(void* dst, const void* src, std::size_t bytes, int device);
void copy_to_host(void* dst, const void* src, std::size_t bytes, int device);

// The device that owns p (device or managed memory), or -1 for any other
// pointer (host memory).
int pointer_device(const void* p);

// Waits for work queued on a producer's stream (a CUDA array interface or
// DLPack stream handle: 1 = legacy default, 2 = per-thread default).
void wait_for_stream(std::uintptr_t stream, int device);

// Tables copied to one device; build once per model and device.
class Tables {
 public:
  Tables(const RansTables& tables, int device);
  ~Tables();
  Tables(const Tables&) = delete;
  Tables& operator=(const Tables&) = delete;
  int device() const;
  int precision() const;
  std::size_t num_tables() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// codec::rans::encode on the device: values and indexes are count int32 in
// device memory; the payload (header included) comes back in device memory.
Allocation encode(const Tables& tables, const std::int32_t* values, const std::int32_t* indexes,
                  std::uint64_t count, int lanes, std::uint64_t substream_size);

// codec::rans::decode on the device: indexes and out are count int32 in
// device memory; the payload is in device memory when payload_on_device,
// else in host memory.
void decode(const Tables& tables, const std::uint8_t* payload, bool payload_on_device,
            std::uint64_t size, const std::int32_t* indexes, std::uint64_t count, std::int32_t* out);

}  // namespace codec::rans::cuda
