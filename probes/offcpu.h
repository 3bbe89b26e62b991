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
 * Histograms (array `hists`, read through mmap): one per (target index,
 * thread class id, reason), at index (target * (max_classes + 1) + class) *
 * OFFCPU_REASONS + reason: the count of off-CPU intervals per log2 bucket and
 * their total length.
 * Bucket k (0 <= k < OFFCPU_FINITE_BUCKETS) counts intervals of at most
 * 2^(10+k) ns and more than 2^(9+k) ns (bucket 0: at most 1.024 us); the
 * last bucket counts longer ones (over 17.2 s). Powers of two nanoseconds
 * cost the kernel side no division.
 */
#ifndef POOLSCOPE_PROBES_OFFCPU_H_
#define POOLSCOPE_PROBES_OFFCPU_H_

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define OFFCPU_FINITE_BUCKETS 25 /* 2^10 ns (1.02 us) .. 2^34 ns (17.2 s) */
#define OFFCPU_BUCKETS (OFFCPU_FINITE_BUCKETS + 1)

#define OFFCPU_MAX_TARGETS 127
#define OFFCPU_TARGET_INDEX_MASK 0x7f
#define OFFCPU_TARGET_INHERIT 0x80

#define OFFCPU_COMM_LEN 16
#define OFFCPU_CLASS_OTHER 0 /* thread class id of names past the bound */

#define OFFCPU_MAX_STACK_DEPTH 64  /* user stack frames kept */
#define OFFCPU_MAX_KSTACK_DEPTH 32 /* kernel stack frames kept */

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
  __u64 hist_full;   /* an interval lost: no histogram for its key (cannot happen) */
  __u64 slot_failed; /* an interval lost: no per-task slot, or its end not seen */
  __u64 stack_lost;  /* a sampled stack not recorded (stack map full or collision) */
  __u64 stack_full;  /* a sampled interval lost: the stack-count map was full */
  __u64 recovered;   /* an interval whose switch-in was not seen, closed late (not a loss) */
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
  __s32 sock_fd;    /* the fd a read last blocked on (fd_is_socket's cache) */
  __u16 target;
  __u16 thread_class;
  __u8 reason;
  __u8 has_class; /* comm/thread_class are valid */
  __u8 sampled;   /* user_stack/kern_stack belong to the pending interval */
  __u8 sock_is;   /* sock_fd is a socket */
  __u8 sock_left; /* uses of the cached answer left; 0: none cached */
  __u8 pad[3];
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
