// LruBaseline: a plain least-recently-used cache of keys, the baseline the
// L1's hit ratio is compared against in cache_l1_bench. Unsharded, bounded by
// entry count only, no values or expiry: it only answers hit or miss.
//
//   LruBaseline lru(10000);
//   if (!lru.Get(key)) lru.Put(key);
//
// Thread-safety: none (single-threaded simulation).
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace poolscope::bench {

class LruBaseline {
 public:
  // LruBaseline holds at most `capacity` keys.
  explicit LruBaseline(std::size_t capacity) : capacity_(capacity) {}

  // Get reports whether `key` is held and marks it most recently used.
  bool Get(std::string_view key) {
    auto it = index_.find(key);
    if (it == index_.end()) return false;
    order_.splice(order_.begin(), order_, it->second);
    return true;
  }

  // Put adds `key` as most recently used, dropping the least recent if full.
  void Put(std::string_view key) {
    if (Get(key) || capacity_ == 0) return;
    if (index_.size() >= capacity_) {
      index_.erase(order_.back());
      order_.pop_back();
    }
    order_.emplace_front(key);
    index_.emplace(order_.front(), order_.begin());
  }

  // size returns the number of keys held.
  std::size_t size() const { return index_.size(); }

 private:
  std::size_t capacity_;
  std::list<std::string> order_;  // most recent first
  // Keys view the strings in order_ (list nodes never move).
  std::unordered_map<std::string_view, std::list<std::string>::iterator> index_;
};

}  // namespace poolscope::bench
