#include "poolscope/core/pg_cancel.h"

#include <libpq-fe.h>

#include <atomic>
#include <thread>

namespace poolscope {
namespace {

constexpr int kMaxInFlight = 8;
std::atomic<int> in_flight{0};
std::atomic<std::uint64_t> dropped{0};

}  // namespace

bool CancelInBackground(pg_cancel* cancel) {
  if (cancel == nullptr) return false;
  if (in_flight.fetch_add(1) >= kMaxInFlight) {
    in_flight.fetch_sub(1);
    dropped.fetch_add(1, std::memory_order_relaxed);
    PQfreeCancel(cancel);
    return false;
  }
  std::thread([cancel] {
    char err[256];
    PQcancel(cancel, err, sizeof err);
    PQfreeCancel(cancel);
    in_flight.fetch_sub(1);
  }).detach();
  return true;
}

std::uint64_t CancelsDropped() { return dropped.load(std::memory_order_relaxed); }

}  // namespace poolscope
