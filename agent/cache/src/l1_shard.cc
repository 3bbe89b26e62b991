#include "l1_shard.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

namespace poolscope {
namespace {

constexpr std::size_t kInitialSlots = 16;
// A candidate at least this frequent that loses to its victim is still
// admitted 1 time in 128, so keys that collide with a victim in the sketch
// (by accident or by design) cannot keep it in forever.
constexpr int kWarmFrequency = 6;
// FreeNode drops key buffers above this size instead of keeping them for reuse.
constexpr std::size_t kKeepKeyCapacity = 256;

std::size_t Percent(std::size_t value, std::size_t percent) {
  // value * percent / 100 without overflow for large budgets.
  return value / 100 * percent + value % 100 * percent / 100;
}

// KeyEquals compares without a library call for short keys.
bool KeyEquals(const std::string& stored, std::string_view key) {
  const std::size_t n = key.size();
  if (stored.size() != n) return false;
  const char* a = stored.data();
  const char* b = key.data();
  if (n >= 8) {
    std::uint64_t x, y;
    for (std::size_t i = 0; i + 8 < n; i += 8) {
      std::memcpy(&x, a + i, 8);
      std::memcpy(&y, b + i, 8);
      if (x != y) return false;
    }
    std::memcpy(&x, a + n - 8, 8);  // the last 8 bytes, overlapping
    std::memcpy(&y, b + n - 8, 8);
    return x == y;
  }
  if (n >= 4) {
    std::uint32_t x0, y0, x1, y1;
    std::memcpy(&x0, a, 4);
    std::memcpy(&y0, b, 4);
    std::memcpy(&x1, a + n - 4, 4);
    std::memcpy(&y1, b + n - 4, 4);
    return x0 == y0 && x1 == y1;
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace

static_assert(sizeof(std::string) + sizeof(std::shared_ptr<const std::string>) + 16 <= 64,
              "L1Shard::Node should fit one cache line");

L1Shard::L1Shard(const L1ShardLimits& limits)
    : max_{limits.max_entries, limits.max_bytes},
      window_max_{std::max<std::size_t>(1, Percent(limits.max_entries, 1)),
                  std::max<std::size_t>(1, Percent(limits.max_bytes, 1))},
      protected_max_{
          Percent(limits.max_entries - std::min(limits.max_entries, window_max_.entries), 80),
          Percent(limits.max_bytes - std::min(limits.max_bytes, window_max_.bytes), 80)},
      time_to_idle_(limits.time_to_idle_nanos),
      sketch_(std::min(limits.max_entries, limits.max_bytes / kL1EntryOverheadBytes),
              limits.doorkeeper) {
  std::lock_guard<L1SpinLock> lock(mu_);
  Reset();
}

void L1Shard::Reset() {
  nodes_.clear();
  nodes_.resize(kHeads);
  meta_.clear();
  meta_.resize(kHeads);
  for (std::uint32_t head = 0; head < kHeads; ++head) {
    meta_[head].prev = head;
    meta_[head].next = head;
    meta_[head].segment = static_cast<Segment>(head);
  }
  free_ = 0;
  slots_.assign(kInitialSlots, Slot{});
  slot_mask_ = kInitialSlots - 1;
  PublishTable();
  usage_ = {};
  total_ = {};
}

// --- Index -----------------------------------------------------------------

void L1Shard::PublishTable() {
  slots_hint_.store(slots_.data(), std::memory_order_relaxed);
  slot_mask_hint_.store(slot_mask_, std::memory_order_relaxed);
}

void L1Shard::Prefetch(std::uint64_t hash) const {
  const auto* slots = static_cast<const Slot*>(slots_hint_.load(std::memory_order_relaxed));
  const std::size_t mask = slot_mask_hint_.load(std::memory_order_relaxed);
  __builtin_prefetch(slots + (static_cast<std::uint32_t>(hash) & mask));
  sketch_.Prefetch(hash);
}

std::size_t L1Shard::FindSlot(std::string_view key, std::uint64_t hash) const {
  const auto tag = static_cast<std::uint32_t>(hash);
  for (std::size_t pos = tag & slot_mask_;; pos = (pos + 1) & slot_mask_) {
    const Slot& slot = slots_[pos];
    if (slot.node == 0) return kNoSlot;
    if (slot.tag == tag && KeyEquals(nodes_[slot.node].key, key)) return pos;
  }
}

std::size_t L1Shard::SlotOf(std::uint32_t id) const {
  const auto tag = static_cast<std::uint32_t>(meta_[id].hash);
  std::size_t pos = tag & slot_mask_;
  while (slots_[pos].node != id) pos = (pos + 1) & slot_mask_;
  return pos;
}

void L1Shard::InsertSlot(std::uint64_t hash, std::uint32_t id) {
  if ((total_.entries + 1) * 2 > slots_.size()) GrowTable();
  const auto tag = static_cast<std::uint32_t>(hash);
  std::size_t pos = tag & slot_mask_;
  while (slots_[pos].node != 0) pos = (pos + 1) & slot_mask_;
  slots_[pos] = Slot{id, tag};
}

void L1Shard::EraseSlot(std::size_t pos) {
  // Backward-shift deletion: pull later members of the probe run into the
  // hole when their home slot is not between the hole and them.
  std::size_t hole = pos;
  for (std::size_t next = (pos + 1) & slot_mask_; slots_[next].node != 0;
       next = (next + 1) & slot_mask_) {
    const std::size_t home = slots_[next].tag & slot_mask_;
    if (((next - home) & slot_mask_) >= ((next - hole) & slot_mask_)) {
      slots_[hole] = slots_[next];
      hole = next;
    }
  }
  slots_[hole] = Slot{};
}

void L1Shard::GrowTable() {
  std::vector<Slot> old(slots_.size() * 2);
  old.swap(slots_);
  slot_mask_ = slots_.size() - 1;
  for (const Slot& slot : old) {
    if (slot.node == 0) continue;
    std::size_t pos = slot.tag & slot_mask_;
    while (slots_[pos].node != 0) pos = (pos + 1) & slot_mask_;
    slots_[pos] = slot;
  }
  PublishTable();
}

std::uint32_t L1Shard::AllocNode() {
  if (free_ != 0) {
    const std::uint32_t id = free_;
    free_ = meta_[id].next;
    return id;
  }
  nodes_.emplace_back();
  meta_.emplace_back();
  return static_cast<std::uint32_t>(nodes_.size() - 1);
}

void L1Shard::FreeNode(std::uint32_t id) {
  Node& n = nodes_[id];
  n.key.clear();
  if (n.key.capacity() > kKeepKeyCapacity) n.key.shrink_to_fit();
  n.value.reset();
  meta_[id].segment = kFree;
  meta_[id].next = free_;
  free_ = id;
}

// --- Segment lists ---------------------------------------------------------

void L1Shard::PushFront(Segment segment, std::uint32_t id) {
  Meta& m = meta_[id];
  Meta& head = meta_[segment];
  m.prev = segment;
  m.next = head.next;
  meta_[head.next].prev = id;
  head.next = id;
  m.segment = segment;
  ++usage_[segment].entries;
  usage_[segment].bytes += m.charge;
}

void L1Shard::Detach(std::uint32_t id) {
  Meta& m = meta_[id];
  meta_[m.prev].next = m.next;
  meta_[m.next].prev = m.prev;
  --usage_[m.segment].entries;
  usage_[m.segment].bytes -= m.charge;
  m.segment = kDetached;
}

std::uint32_t L1Shard::Back(Segment segment) const {
  const std::uint32_t id = meta_[segment].prev;
  return id < kHeads ? 0 : id;
}

void L1Shard::OnAccess(std::uint32_t id) {
  Meta& m = meta_[id];
  switch (m.segment) {
    case kWindow:
    case kProtected: {
      Meta& head = meta_[m.segment];
      if (head.next == id) return;  // already most recent
      meta_[m.prev].next = m.next;
      meta_[m.next].prev = m.prev;
      m.prev = m.segment;
      m.next = head.next;
      meta_[head.next].prev = id;
      head.next = id;
      return;
    }
    case kProbation:
      // A second look while on probation: promote, and demote protected's
      // least recent entries while protected is over its share.
      Detach(id);
      PushFront(kProtected, id);
      while (usage_[kProtected].Exceeds(protected_max_) && usage_[kProtected].entries > 1) {
        const std::uint32_t demoted = Back(kProtected);
        Detach(demoted);
        PushFront(kProbation, demoted);
      }
      return;
    case kDetached:
    case kFree:
      return;
  }
}

// --- Policy ----------------------------------------------------------------

bool L1Shard::IsDead(std::uint32_t id, std::int64_t now, EvictionCause* cause) const {
  const Node& n = nodes_[id];
  if (now >= n.expire_at) {
    *cause = EvictionCause::kExpired;
    return true;
  }
  if (time_to_idle_ > 0 && now - n.last_access >= time_to_idle_) {
    *cause = EvictionCause::kIdle;
    return true;
  }
  return false;
}

bool L1Shard::Admit(std::uint32_t candidate, std::uint32_t victim) {
  const int candidate_freq = sketch_.Frequency(meta_[candidate].hash);
  const int victim_freq = sketch_.Frequency(meta_[victim].hash);
  if (candidate_freq > victim_freq) return true;
  if (candidate_freq < kWarmFrequency) return false;
  random_ ^= random_ << 13;
  random_ ^= random_ >> 7;
  random_ ^= random_ << 17;
  return (random_ & 127) == 0;
}

void L1Shard::Evict(std::int64_t now, L1Removed* removed) {
  EvictionCause cause;
  // Entries pushed out of the window must earn their place in the main
  // region: while the shard is over budget, the candidate duels the main
  // region's least recent entry (probation first) on frequency.
  while (usage_[kWindow].Exceeds(window_max_) && usage_[kWindow].entries > 0) {
    const std::uint32_t candidate = Back(kWindow);
    Detach(candidate);
    if (IsDead(candidate, now, &cause)) {
      Remove(candidate, kNoSlot, cause, removed);
      continue;
    }
    bool admitted = true;
    while (total_.Exceeds(max_)) {
      std::uint32_t victim = Back(kProbation);
      if (victim == 0) victim = Back(kProtected);
      if (victim == 0) break;
      if (IsDead(victim, now, &cause)) {
        Remove(victim, kNoSlot, cause, removed);
      } else if (Admit(candidate, victim)) {
        Remove(victim, kNoSlot, EvictionCause::kSize, removed);
      } else {
        admitted = false;
        break;
      }
    }
    if (admitted) {
      PushFront(kProbation, candidate);
    } else {
      ++stats_.rejected;
      Remove(candidate, kNoSlot, EvictionCause::kSize, removed);
    }
  }
  // Safety net (an update that grew an entry in the main region): evict by
  // recency until the shard fits.
  while (total_.Exceeds(max_)) {
    std::uint32_t victim = Back(kProbation);
    if (victim == 0) victim = Back(kProtected);
    if (victim == 0) victim = Back(kWindow);
    if (victim == 0) break;
    if (!IsDead(victim, now, &cause)) cause = EvictionCause::kSize;
    Remove(victim, kNoSlot, cause, removed);
  }
}

void L1Shard::Remove(std::uint32_t id, std::size_t slot, EvictionCause cause, L1Removed* removed) {
  if (meta_[id].segment <= kProtected) Detach(id);
  EraseSlot(slot == kNoSlot ? SlotOf(id) : slot);
  --total_.entries;
  total_.bytes -= meta_[id].charge;
  ++stats_.evictions[static_cast<int>(cause)];
  removed->Add(cause, std::move(nodes_[id].value));
  FreeNode(id);
}

// --- Operations ------------------------------------------------------------

L1Entry L1Shard::Get(std::string_view key, std::uint64_t hash, std::int64_t now,
                     L1Removed* removed) {
  std::lock_guard<L1SpinLock> lock(mu_);
  sketch_.Increment(hash);
  const std::size_t pos = FindSlot(key, hash);
  if (pos == kNoSlot) {
    ++stats_.misses;
    return {};
  }
  const std::uint32_t id = slots_[pos].node;
  EvictionCause cause;
  if (IsDead(id, now, &cause)) {
    Remove(id, pos, cause, removed);
    ++stats_.misses;
    return {};
  }
  Node& n = nodes_[id];
  // The caller's copy of the value will write its reference count; start
  // loading that line (next to the string in a make_shared block) now.
  __builtin_prefetch(n.value.get(), 1);
  if (time_to_idle_ > 0) n.last_access = now;  // else leave the line clean
  OnAccess(id);
  if (!n.value) {
    ++stats_.negative_hits;
    return {L1Result::kNegativeHit, nullptr};
  }
  ++stats_.hits;
  return {L1Result::kHit, n.value};
}

void L1Shard::Put(std::string_view key, std::uint64_t hash,
                  std::shared_ptr<const std::string> value, std::int64_t now,
                  std::int64_t ttl_nanos, L1Removed* removed) {
  const std::size_t charge = key.size() + (value ? value->size() : 0) + kL1EntryOverheadBytes;
  constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  const std::int64_t expire_at = (now > 0 && ttl_nanos > kNever - now) ? kNever : now + ttl_nanos;
  const bool storable = ttl_nanos > 0 && charge <= max_.bytes && max_.entries > 0;

  std::lock_guard<L1SpinLock> lock(mu_);
  const std::size_t pos = FindSlot(key, hash);
  if (!storable) {
    if (pos != kNoSlot) {
      Remove(slots_[pos].node, pos,
             ttl_nanos > 0 ? EvictionCause::kSize : EvictionCause::kInvalidated, removed);
    }
    return;  // `value` is released after the lock
  }
  if (pos != kNoSlot) {
    const std::uint32_t id = slots_[pos].node;
    Node& n = nodes_[id];
    Meta& m = meta_[id];
    removed->Keep(std::exchange(n.value, std::move(value)));
    if (m.segment <= kProtected) {
      usage_[m.segment].bytes -= m.charge;
      usage_[m.segment].bytes += charge;
    }
    total_.bytes -= m.charge;
    total_.bytes += charge;
    m.charge = charge;
    n.expire_at = expire_at;
    n.last_access = now;
    ++stats_.updates;
    OnAccess(id);
  } else {
    const std::uint32_t id = AllocNode();
    InsertSlot(hash, id);
    Node& n = nodes_[id];
    n.key.assign(key.data(), key.size());
    n.value = std::move(value);
    n.expire_at = expire_at;
    n.last_access = now;
    meta_[id].hash = hash;
    meta_[id].charge = charge;
    ++total_.entries;
    total_.bytes += charge;
    PushFront(kWindow, id);
    ++stats_.inserts;
  }
  Evict(now, removed);
}

bool L1Shard::Erase(std::string_view key, std::uint64_t hash, L1Removed* removed) {
  std::lock_guard<L1SpinLock> lock(mu_);
  const std::size_t pos = FindSlot(key, hash);
  if (pos == kNoSlot) return false;
  Remove(slots_[pos].node, pos, EvictionCause::kInvalidated, removed);
  return true;
}

std::size_t L1Shard::Clear() {
  std::vector<Node> old;  // destroyed after the lock is released
  std::size_t count = 0;
  {
    std::lock_guard<L1SpinLock> lock(mu_);
    count = total_.entries;
    old.swap(nodes_);
    Reset();
    stats_.evictions[static_cast<int>(EvictionCause::kInvalidated)] += count;
  }
  return count;
}

void L1Shard::PurgeExpired(std::int64_t now, L1Removed* removed) {
  std::lock_guard<L1SpinLock> lock(mu_);
  EvictionCause cause;
  for (std::uint32_t id = kHeads; id < nodes_.size(); ++id) {
    if (meta_[id].segment != kFree && IsDead(id, now, &cause)) {
      Remove(id, kNoSlot, cause, removed);
    }
  }
}

L1ShardCounts L1Shard::Counts() const {
  std::lock_guard<L1SpinLock> lock(mu_);
  return {total_.entries, total_.bytes, stats_};
}

}  // namespace poolscope
