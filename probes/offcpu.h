/* offcpu.h: the structures shared by the off-CPU probe's kernel side
 * (offcpu.bpf.c) and its user-space loader (src/offcpu_probe.cc).
 *
 * Plain C with fixed-size fields only: the same bytes are read on both sides.
 *
 * Target table (map `target_table`): one byte per tgid, eight per array
 * element, indexed by tgid / 8. Byte 0 means "not a target"; otherwise the low
 * seven bits are the target's index + 1 and OFFCPU_TARGET_INHERIT says that
 * processes it forks are targets too (process-name targets: a child keeps the
 * name until it execs). User space writes it through mmap; the kernel side
 * writes it on fork.
 *
 * Histograms (map `hists`): key (target index, thread class id, reason),
 * value the count of off-CPU intervals per log2 bucket and their total length.
 * Bucket k (0 <= k < OFFCPU_FINITE_BUCKETS) counts intervals of at most
 * 2^k microseconds and more than 2^(k-1) (bucket 0: at most 1 us); the last
 * bucket counts longer ones (about 16.8 s and up).
 */
#ifndef POOLSCOPE_PROBES_OFFCPU_H_
#define POOLSCOPE_PROBES_OFFCPU_H_

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define OFFCPU_FINITE_BUCKETS 25 /* 1 us .. 2^24 us (16.78 s) */
#define OFFCPU_BUCKETS (OFFCPU_FINITE_BUCKETS + 1)

#define OFFCPU_MAX_TARGETS 127
#define OFFCPU_TARGET_INDEX_MASK 0x7f
#define OFFCPU_TARGET_INHERIT 0x80

#define OFFCPU_COMM_LEN 16
#define OFFCPU_CLASS_OTHER 0 /* thread class id of names past the bound */

#define OFFCPU_MAX_STACK_DEPTH 64

/* Reasons, in the order of the `reason` label values. */
enum offcpu_reason {
  OFFCPU_REASON_RUNQUEUE = 0, /* preempted while runnable */
  OFFCPU_REASON_IO = 1,       /* uninterruptible sleep */
  OFFCPU_REASON_LOCK = 2,     /* futex */
  OFFCPU_REASON_POLL = 3,     /* epoll/poll/select */
  OFFCPU_REASON_NET = 4,      /* socket receive, read on a socket */
  OFFCPU_REASON_SLEEP = 5,    /* nanosleep, clock_nanosleep */
  OFFCPU_REASON_OTHER = 6,
  OFFCPU_REASONS = 7,
};

/* Counters in the per-CPU `drops` array (one element). */
struct offcpu_drops {
  __u64 hist_full;   /* an interval lost: the histogram map was full */
  __u64 slot_failed; /* a target task got no per-task slot (out of memory) */
  __u64 stack_lost;  /* a sampled stack not recorded (stack map full or collision) */
  __u64 stack_full;  /* a sampled interval lost: the stack-count map was full */
};

struct offcpu_hist_key {
  __u16 target;       /* target index */
  __u16 thread_class; /* id from the `classes` map; OFFCPU_CLASS_OTHER past the bound */
  __u32 reason;       /* enum offcpu_reason */
};

struct offcpu_hist {
  __u64 buckets[OFFCPU_BUCKETS];
  __u64 sum_ns;
};

/* A normalised thread name (digits runs folded to '#'), the `classes` key. */
struct offcpu_class_name {
  char name[OFFCPU_COMM_LEN];
};

/* Per-task state (task storage, or a tid-keyed LRU hash in raw_tp mode). */
struct offcpu_task {
  __u64 out_ns;  /* when the task last switched out as a target; 0: none pending */
  __u64 comm[2]; /* the raw name the class id was computed from */
  __s32 user_stack;
  __s32 kern_stack; /* sampled stack ids for the pending interval; -1: none */
  __u16 target;
  __u16 thread_class;
  __u8 reason;
  __u8 has_class; /* comm/thread_class are valid */
  __u8 sampled;   /* user_stack/kern_stack belong to the pending interval */
  __u8 pad;
};

struct offcpu_stack_key {
  __u32 tgid;
  __s32 user_stack;
  __s32 kern_stack;
  __u16 target;
  __u16 thread_class;
};

struct offcpu_stack_value {
  __u64 total_ns;
  __u64 count;
};

#endif /* POOLSCOPE_PROBES_OFFCPU_H_ */
