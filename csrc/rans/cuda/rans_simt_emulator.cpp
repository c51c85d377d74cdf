#include "rans/cuda/rans_simt_emulator.hpp"

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "rans/cuda/rans_simt_driver.hpp"

// Fibers are glibc's ucontext: macOS deprecates it and musl lacks makecontext.
#if defined(__linux__) && defined(__GLIBC__)
#include <ucontext.h>
#define CODEC_SIMT_HAVE_FIBERS 1
#endif

namespace codec::rans::simt {

#if defined(CODEC_SIMT_HAVE_FIBERS)

namespace {

#if defined(__GNUC__) || defined(__clang__)
#define CODEC_CALL_SITE __builtin_LINE()
#else
#define CODEC_CALL_SITE 0
#endif

enum class Op { kBallot, kShfl32, kShfl64 };

// Runs one warp: 32 fibers, each the body for one lane. A fiber runs until
// it reaches a collective (or returns); when all 32 wait at the same one,
// the results are computed and all resume.
class WarpEmulator {
 public:
  static constexpr std::size_t kStackBytes = 256 * 1024;

  WarpEmulator() : stacks_(new char[kWarpSize * kStackBytes]) {}

  template <class Body>
  void run(const Body& body, std::uint64_t warp_id) {
    body_ = &body;
    warp_id_ = warp_id;
    invoke_ = [](WarpEmulator& e, std::uint32_t lane) {
      Lane warp{&e, lane};
      (*static_cast<const Body*>(e.body_))(warp, e.warp_id_);
    };
    const auto self = reinterpret_cast<std::uintptr_t>(this);
    for (std::uint32_t l = 0; l < kWarpSize; ++l) {
      if (getcontext(&fibers_[l]) != 0) throw std::runtime_error("SIMT emulator: getcontext failed");
      fibers_[l].uc_stack.ss_sp = stacks_.get() + l * kStackBytes;
      fibers_[l].uc_stack.ss_size = kStackBytes;
      fibers_[l].uc_link = &main_;
      makecontext(&fibers_[l], reinterpret_cast<void (*)()>(&entry), 3,
                  static_cast<unsigned>(self >> 32), static_cast<unsigned>(self & 0xFFFFFFFFu),
                  static_cast<unsigned>(l));
      state_[l] = State::kReady;
    }
    for (;;) {
      for (std::uint32_t l = 0; l < kWarpSize; ++l) {
        if (state_[l] == State::kReady) swapcontext(&main_, &fibers_[l]);
      }
      std::uint32_t done = 0;
      for (std::uint32_t l = 0; l < kWarpSize; ++l) done += state_[l] == State::kDone ? 1 : 0;
      if (done == kWarpSize) return;
      const std::uint32_t waiting = first_waiting();
      if (done > 0) diverged("some lanes returned while others wait at a collective", waiting);
      for (std::uint32_t l = 0; l < kWarpSize; ++l) {
        if (call_[l].op != call_[waiting].op || call_[l].site != call_[waiting].site) {
          diverged("lanes wait at different collectives (lines " + std::to_string(call_[waiting].site) +
                       " and " + std::to_string(call_[l].site) + ")",
                   waiting);
        }
      }
      resolve();
    }
  }

  struct Lane {
    WarpEmulator* e;
    std::uint32_t id;

    std::uint32_t lane() const { return id; }
    std::uint32_t ballot(bool p, int site = CODEC_CALL_SITE) {
      return static_cast<std::uint32_t>(e->arrive(id, Op::kBallot, p ? 1 : 0, 0, site));
    }
    std::uint32_t shfl(std::uint32_t v, std::uint32_t from, int site = CODEC_CALL_SITE) {
      return static_cast<std::uint32_t>(e->arrive(id, Op::kShfl32, v, from, site));
    }
    std::uint64_t shfl(std::uint64_t v, std::uint32_t from, int site = CODEC_CALL_SITE) {
      return e->arrive(id, Op::kShfl64, v, from, site);
    }
    // Fibers run one at a time: a plain update is atomic here.
    void atomic_min(std::uint64_t* p, std::uint64_t v) {
      if (v < *p) *p = v;
    }
  };

 private:
  enum class State { kReady, kWaiting, kDone };
  struct Call {
    Op op;
    int site;
    std::uint64_t value;
    std::uint32_t from;
    std::uint64_t result;
  };

  static void entry(unsigned high, unsigned low, unsigned lane) {
    auto* e = reinterpret_cast<WarpEmulator*>(static_cast<std::uintptr_t>(high) << 32 | low);
    e->invoke_(*e, lane);
    e->state_[lane] = State::kDone;  // then uc_link returns to run()
  }

  std::uint64_t arrive(std::uint32_t lane, Op op, std::uint64_t value, std::uint32_t from, int site) {
    call_[lane] = Call{op, site, value, from, 0};
    state_[lane] = State::kWaiting;
    swapcontext(&fibers_[lane], &main_);
    return call_[lane].result;
  }

  std::uint32_t first_waiting() const {
    for (std::uint32_t l = 0; l < kWarpSize; ++l) {
      if (state_[l] == State::kWaiting) return l;
    }
    return 0;
  }

  void resolve() {
    if (call_[0].op == Op::kBallot) {
      std::uint32_t ballot = 0;
      for (std::uint32_t l = 0; l < kWarpSize; ++l) ballot |= static_cast<std::uint32_t>(call_[l].value != 0) << l;
      for (std::uint32_t l = 0; l < kWarpSize; ++l) call_[l].result = ballot;
    } else {
      for (std::uint32_t l = 0; l < kWarpSize; ++l) call_[l].result = call_[call_[l].from % kWarpSize].value;
    }
    for (std::uint32_t l = 0; l < kWarpSize; ++l) state_[l] = State::kReady;
  }

  [[noreturn]] void diverged(const std::string& what, std::uint32_t lane) const {
    // The fibers are abandoned mid-body; the bodies hold no resources.
    throw std::logic_error("SIMT emulator, warp " + std::to_string(warp_id_) + ": " + what +
                           " (lane " + std::to_string(lane) + ", line " + std::to_string(call_[lane].site) + ")");
  }

  std::unique_ptr<char[]> stacks_;
  ucontext_t main_{};
  ucontext_t fibers_[kWarpSize]{};
  State state_[kWarpSize]{};
  Call call_[kWarpSize]{};
  const void* body_ = nullptr;
  std::uint64_t warp_id_ = 0;
  void (*invoke_)(WarpEmulator&, std::uint32_t) = nullptr;
};

// A Backend (rans_simt_driver.hpp) whose device memory is host memory.
class EmulatorBackend {
 public:
  class Buffer {
   public:
    Buffer() = default;
    explicit Buffer(std::size_t bytes) : bytes_(new std::uint8_t[bytes]()), size_(bytes) {}
    void* data() const { return bytes_.get(); }
    std::size_t size() const { return size_; }

   private:
    std::shared_ptr<std::uint8_t[]> bytes_;
    std::size_t size_ = 0;
  };

  Buffer alloc(std::size_t bytes) { return Buffer(bytes); }
  Buffer alloc_result(std::size_t bytes) { return Buffer(bytes); }
  void to_device(void* dst, const void* src, std::size_t n) { std::memcpy(dst, src, n); }
  void to_host(void* dst, const void* src, std::size_t n) { std::memcpy(dst, src, n); }
  void finish() {}

  template <class Body>
  void launch(std::uint64_t warps, const Body& body) {
    for (std::uint64_t w = 0; w < warps; ++w) warp_.run(body, w);
  }

 private:
  WarpEmulator warp_;
};

}  // namespace

bool emulator_available() { return true; }

std::vector<std::uint8_t> emulated_encode(const RansTables& tables, const std::int32_t* values,
                                          const std::int32_t* indexes, std::size_t count, int lanes,
                                          std::uint64_t substream_size) {
  EmulatorBackend b;
  const DeviceTables<EmulatorBackend> device_tables = upload_tables(b, tables);
  const auto device_values = detail::upload_bytes(b, values, count * sizeof(std::int32_t), false);
  const auto device_indexes = detail::upload_bytes(b, indexes, count * sizeof(std::int32_t), false);
  const auto payload = encode(b, device_tables, static_cast<const std::int32_t*>(device_values.data()),
                              static_cast<const std::int32_t*>(device_indexes.data()), count, lanes,
                              substream_size);
  const auto* p = static_cast<const std::uint8_t*>(payload.data());
  return std::vector<std::uint8_t>(p, p + payload.size());
}

void emulated_decode(const RansTables& tables, const std::uint8_t* data, std::size_t size,
                     bool payload_on_device, const std::int32_t* indexes, std::size_t count,
                     std::int32_t* out) {
  EmulatorBackend b;
  const DeviceTables<EmulatorBackend> device_tables = upload_tables(b, tables);
  const auto device_indexes = detail::upload_bytes(b, indexes, count * sizeof(std::int32_t), false);
  auto device_out = b.alloc(count * sizeof(std::int32_t) + 1);
  EmulatorBackend::Buffer device_payload;
  const std::uint8_t* payload = data;
  if (payload_on_device) {
    device_payload = detail::upload_bytes(b, data, size, false);
    payload = static_cast<const std::uint8_t*>(device_payload.data());
  }
  decode(b, device_tables, payload, payload_on_device, size,
         static_cast<const std::int32_t*>(device_indexes.data()), count,
         static_cast<std::int32_t*>(device_out.data()));
  std::memcpy(out, device_out.data(), count * sizeof(std::int32_t));
}

#else  // no fibers

bool emulator_available() { return false; }

std::vector<std::uint8_t> emulated_encode(const RansTables&, const std::int32_t*, const std::int32_t*,
                                          std::size_t, int, std::uint64_t) {
  throw std::runtime_error("the SIMT emulator needs glibc's ucontext, which this platform lacks");
}

void emulated_decode(const RansTables&, const std::uint8_t*, std::size_t, bool, const std::int32_t*,
                     std::size_t, std::int32_t*) {
  throw std::runtime_error("the SIMT emulator needs glibc's ucontext, which this platform lacks");
}

#endif

}  // namespace codec::rans::simt
