// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* offcpu.bpf.c: the off-CPU probe's kernel side.
 *
 * On every context switch (sched_switch):
 *  - switch-out of a target task (user-space thread of a target tgid): note
 *    the time, why it leaves the CPU (the reason) and its thread class in the
 *    task's own storage; with stack sampling on, maybe its stack ids;
 *  - switch-in of a target task with a pending switch-out: add the interval
 *    to the log2 histogram of (target, thread class, reason) and, when its
 *    stacks were sampled, to the per-stack totals.
 * On fork (sched_process_fork), a child of an inheriting target becomes one;
 * if it then execs another program (sched_process_exec), it stops being one.
 *
 * Two flavours of each program: tp_btf (BTF-typed arguments, task storage)
 * and raw_tp (for kernels that refuse tp_btf; per-task state in an LRU hash
 * keyed by thread id). The loader enables one flavour.
 *
 * Everything configurable is read-only data set before load; the only
 * run-time switch is `stacks_on` in .bss (user space sets it while a
 * folded-stack collection runs). Shared structures: offcpu.h.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "offcpu.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define PF_KTHREAD 0x00200000
#define TASK_RUNNING 0x0000
#define TASK_UNINTERRUPTIBLE 0x0002
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define EFAULT 14
#define EEXIST 17

/* ---- settings (read-only data, set by the loader before load) ---------- */

/* The tracepoint passes prev_state as its fourth argument (Linux 5.18+);
 * otherwise the state is read from the task. */
const volatile bool use_state_arg = true;
/* Elements in target_table (tgids above 8 * table_words are never targets). */
const volatile __u32 table_words = 0;
/* Distinct thread classes at most (ids 1..max_classes; the rest are 0). */
const volatile __u32 max_classes = 64;
/* Target indexes the histogram array has room for. */
const volatile __u32 hist_targets = 1;
/* Sample a switch-out's stacks when bpf_get_prandom_u32() < stack_threshold
 * (probability * 2^32); 0 turns stack sampling off entirely. */
const volatile __u64 stack_threshold = 0;
/* Sampled intervals shorter than this are not added to stack_counts. */
const volatile __u64 stack_min_ns = 0;

/* Take time from the runqueue clock the scheduler has just updated (three
 * memory reads) rather than bpf_ktime_get_ns() (a clock read: the largest
 * single cost of this program in virtual machines). Both count nanoseconds;
 * one load uses one of them throughout. */
const volatile bool use_rq_clock = true;

/* ---- run-time state ----------------------------------------------------- */

__u32 stacks_on = 0;  /* user space: 1 while a folded-stack collection runs */
__u32 next_class = 1; /* next thread class id to hand out */

/* ---- maps --------------------------------------------------------------- */

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 1); /* set by the loader: pid_max / 8 */
  __type(key, __u32);
  __type(value, __u64); /* eight target bytes, see offcpu.h */
} target_table SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct offcpu_task);
} task_slots SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 1); /* raw_tp mode only; the loader sizes it */
  __type(key, __u32);     /* thread id */
  __type(value, struct offcpu_task);
} tid_slots SEC(".maps");

/* Processes the kernel side made targets on fork, for user space to check
 * on its next scan (a child that execs something else stops being one). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);  /* tgid */
  __type(value, __u8); /* its target byte */
} forked SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64); /* set by the loader: max_classes */
  __type(key, struct offcpu_class_name);
  __type(value, __u32);
} classes SEC(".maps");

/* One histogram per (target, thread class, reason), at index
 * (target * (max_classes + 1) + class) * OFFCPU_REASONS + reason: an array
 * lookup is a few instructions, a hash lookup a function call. User space
 * reads it through mmap. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 1); /* set by the loader: hist_targets * (max_classes + 1) * reasons */
  __type(key, __u32);
  __type(value, struct offcpu_hist);
} hists SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct offcpu_drops);
} drops SEC(".maps");

/* User and kernel stacks in maps of their own: fewer ids collide. */
struct {
  __uint(type, BPF_MAP_TYPE_STACK_TRACE);
  __uint(max_entries, 1); /* set by the loader when stacks are on */
  __type(key, __u32);
  __uint(value_size, OFFCPU_MAX_STACK_DEPTH * sizeof(__u64));
} user_stacks SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_STACK_TRACE);
  __uint(max_entries, 1); /* set by the loader when stacks are on */
  __type(key, __u32);
  __uint(value_size, OFFCPU_MAX_KSTACK_DEPTH * sizeof(__u64));
} kern_stacks SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1); /* set by the loader when stacks are on */
  __type(key, struct offcpu_stack_key);
  __type(value, struct offcpu_stack_value);
} stack_counts SEC(".maps");

/* now_ns is the time of this context switch; `cur` is the task leaving the
 * CPU. Its scheduling entity points at this CPU's runqueue (through its
 * cfs_rq, with CONFIG_FAIR_GROUP_SCHED, as distributions build). 0: unknown. */
static __always_inline __u64 now_ns(struct task_struct* cur) {
  if (use_rq_clock && bpf_core_field_exists(cur->se.cfs_rq) &&
      bpf_core_field_exists(((struct cfs_rq*)0)->rq)) {
    struct cfs_rq* cfs = cur->se.cfs_rq;
    if (!cfs) return 0;
    struct rq* rq = cfs->rq;
    if (!rq) return 0;
    return rq->clock;
  }
  return bpf_ktime_get_ns();
}

/* ---- architecture: where the system call number and first argument are -- */

#if defined(__TARGET_ARCH_x86)
#define SYSCALL_NR(regs) ((long)(regs)->orig_ax)
#define SYSCALL_ARG0(regs) ((regs)->di)
#define NR_read 0
#define NR_poll 7
#define NR_readv 19
#define NR_select 23
#define NR_nanosleep 35
#define NR_recvfrom 45
#define NR_recvmsg 47
#define NR_futex 202
#define NR_clock_nanosleep 230
#define NR_epoll_wait 232
#define NR_pselect6 270
#define NR_ppoll 271
#define NR_epoll_pwait 281
#define NR_recvmmsg 299
#define NR_epoll_pwait2 441
#define NR_futex_waitv 449
#elif defined(__TARGET_ARCH_arm64)
#define SYSCALL_NR(regs) ((long)(regs)->syscallno)
#define SYSCALL_ARG0(regs) ((regs)->orig_x0)
#define NR_epoll_pwait 22
#define NR_read 63
#define NR_readv 65
#define NR_pselect6 72
#define NR_ppoll 73
#define NR_futex 98
#define NR_nanosleep 101
#define NR_clock_nanosleep 115
#define NR_recvfrom 207
#define NR_recvmsg 212
#define NR_recvmmsg 243
#define NR_epoll_pwait2 441
#define NR_futex_waitv 449
#else
#error "offcpu.bpf.c: system call numbers are known for x86 and arm64 only"
#endif

/* ---- helpers ------------------------------------------------------------- */

static __always_inline void count_drop(int which) {
  __u32 zero = 0;
  struct offcpu_drops* d = bpf_map_lookup_elem(&drops, &zero);
  if (!d) return;
  /* Per-CPU: plain increments are safe. */
  if (which == 0)
    d->hist_full++;
  else if (which == 1)
    d->slot_failed++;
  else if (which == 2)
    d->stack_lost++;
  else if (which == 3)
    d->stack_full++;
  else
    d->recovered++;
}

/* target_byte returns the target-table byte of `tgid` (0: not a target). */
static __always_inline __u8 target_byte(__u32 tgid) {
  __u32 word = tgid >> 3;
  if (word >= table_words) return 0;
  __u8* w = bpf_map_lookup_elem(&target_table, &word);
  if (!w) return 0;
  return w[tgid & 7];
}

/* opaque hides a value from the compiler, so arithmetic on 0/1 flags stays
 * arithmetic instead of becoming branches (which the verifier would explore
 * one by one). */
#define opaque(x) asm volatile("" : "+r"(x))

/* bucket_of maps an interval to its histogram bucket (see offcpu.h): bucket
 * k holds intervals of at most 2^(10+k) ns. No branch (so no verifier state
 * per bucket, and nothing to mispredict): a binary search for the bit width
 * done with arithmetic. */
static __always_inline __u32 bucket_of(__u64 ns) {
  /* v = ns - 1, at least 1023: bit width 10 (bucket 0) for ns <= 1024; an
   * interval of 0 ns wraps to all ones, caught by `zero`. */
  __u64 zero = ((ns | (0 - ns)) >> 63) ^ 1; /* ns == 0 */
  opaque(zero);
  __u64 v = ((ns - 1) & (zero - 1)) | 1023;
  __u64 w = 0, t;
  t = ((v >> 32) + 0xffffffffULL) >> 32; /* v >= 2^32 */
  opaque(t);
  v >>= t << 5;
  w += t << 5;
  t = ((v >> 16) + 0xffffULL) >> 16;
  opaque(t);
  v >>= t << 4;
  w += t << 4;
  t = ((v >> 8) + 0xffULL) >> 8;
  opaque(t);
  v >>= t << 3;
  w += t << 3;
  t = ((v >> 4) + 0xfULL) >> 4;
  opaque(t);
  v >>= t << 2;
  w += t << 2;
  t = ((v >> 2) + 0x3ULL) >> 2;
  opaque(t);
  v >>= t << 1;
  w += t << 1;
  t = v >> 1; /* v < 4 here */
  v >>= t;
  w += t + v;                             /* the bit width of v: 10..64 */
  __s64 k = (__s64)w - 10;                /* 0..54 */
  __s64 over = OFFCPU_FINITE_BUCKETS - k; /* negative past the last finite bucket */
  k += (over >> 63) & over;               /* min(k, OFFCPU_FINITE_BUCKETS) */
  return (__u32)k;
}

struct task_struct___pre514 {
  long state;
} __attribute__((preserve_access_index));

/* task_state reads the scheduler state of a task (kernels whose tracepoint
 * does not pass it). */
static __always_inline __u32 task_state(struct task_struct* t) {
  if (bpf_core_field_exists(t->__state)) return BPF_CORE_READ(t, __state);
  struct task_struct___pre514* old = (void*)t;
  return (__u32)BPF_CORE_READ(old, state);
}

/* fd_is_socket tells whether `t`'s file descriptor `fd` is a socket. A task
 * blocks on the same connection again and again, so the answer is kept per
 * task for the fd and reused SOCK_CHECK_EVERY - 1 times before it is checked
 * again (an fd closed and reopened as another kind of file is misread for at
 * most that many waits). */
#define SOCK_CHECK_EVERY 16
static __always_inline bool fd_is_socket(struct task_struct* t, __u64 fd, struct offcpu_task* s) {
  if (s->sock_left && s->sock_fd == fd) {
    s->sock_left--;
    return s->sock_is;
  }
  struct files_struct* files = t->files;
  if (!files) return false;
  struct fdtable* fdt = files->fdt;
  if (!fdt || fd >= fdt->max_fds) return false;
  __u64 slot = (__u64)fdt->fd + fd * sizeof(struct file*);
  __u64 f = 0;
  if (bpf_probe_read_kernel(&f, sizeof(f), (void*)slot) || !f) return false;
  umode_t mode = BPF_CORE_READ((struct file*)f, f_inode, i_mode);
  s->sock_fd = (__s32)fd;
  s->sock_is = (mode & S_IFMT) == S_IFSOCK;
  s->sock_left = SOCK_CHECK_EVERY - 1;
  return s->sock_is;
}

/* reason_of says why `prev` leaves the CPU. */
static __always_inline __u8 reason_of(struct task_struct* prev, bool preempt, __u32 state,
                                      struct offcpu_task* s) {
  if (preempt || state == TASK_RUNNING) return OFFCPU_REASON_RUNQUEUE;
  if (state & TASK_UNINTERRUPTIBLE) return OFFCPU_REASON_IO;
  struct pt_regs* regs = (struct pt_regs*)bpf_task_pt_regs(prev);
  if (!regs) return OFFCPU_REASON_OTHER;
  long nr = SYSCALL_NR(regs);
  switch (nr) {
    case NR_futex:
    case NR_futex_waitv:
      return OFFCPU_REASON_LOCK;
#ifdef NR_poll
    case NR_poll:
    case NR_select:
    case NR_epoll_wait:
#endif
    case NR_ppoll:
    case NR_pselect6:
    case NR_epoll_pwait:
    case NR_epoll_pwait2:
      return OFFCPU_REASON_POLL;
    case NR_recvfrom:
    case NR_recvmsg:
    case NR_recvmmsg:
      return OFFCPU_REASON_NET;
    case NR_read:
    case NR_readv:
      return fd_is_socket(prev, SYSCALL_ARG0(regs), s) ? OFFCPU_REASON_NET : OFFCPU_REASON_OTHER;
    case NR_nanosleep:
    case NR_clock_nanosleep:
      return OFFCPU_REASON_SLEEP;
    default:
      return OFFCPU_REASON_OTHER;
  }
}

/* assign_class returns the thread class id of the raw thread name (c0, c1),
 * handing out a new id for a name not seen before while ids last. A global
 * (not inlined) function, verified once; the name is normalised without a
 * single branch (runs of digits become one '#'). */
__noinline int assign_class(__u64 c0, __u64 c1) {
  __u64 out[2] = {0, 0};
  __u64 j = 0, prev_digit = 0, ended = 0;
  for (int i = 0; i < OFFCPU_COMM_LEN; i++) {
    __s64 c = (__s64)(((i < 8 ? c0 : c1) >> ((i & 7) * 8)) & 0xff);
    __u64 zero = (__u64)(c - 1) >> 63; /* c == 0 */
    opaque(zero);
    ended |= zero;
    __s64 d = c - '0';
    __u64 digit = (__u64)(~d & (d - 10)) >> 63; /* 0 <= d < 10 */
    opaque(digit);
    __u64 emit = (1 - ended) & (1 - (digit & prev_digit));
    opaque(emit);
    prev_digit = digit;
    __u64 ch = (__u64)c + digit * ((__u64)'#' - (__u64)c);
    __u64 lo = 1 - (j >> 3); /* j < 16: which word */
    __u64 shift = (j & 7) * 8;
    out[0] |= (ch * emit * lo) << shift;
    out[1] |= (ch * emit * (1 - lo)) << shift;
    j += emit;
  }
  struct offcpu_class_name key;
  __builtin_memcpy(&key, out, sizeof(key));

  __u32* found = bpf_map_lookup_elem(&classes, &key);
  if (found) return *found;
  __u32 id = __sync_fetch_and_add(&next_class, 1);
  if (id < 1 || id > max_classes) return OFFCPU_CLASS_OTHER;
  if (bpf_map_update_elem(&classes, &key, &id, BPF_NOEXIST) == 0) return id;
  /* Another CPU added the same name first (or the map is full). */
  found = bpf_map_lookup_elem(&classes, &key);
  return found ? *found : OFFCPU_CLASS_OTHER;
}

/* class_of returns the thread class id of `t`, cached in its slot until the
 * thread's name changes. */
static __always_inline void class_of(struct task_struct* t, struct offcpu_task* s) {
  __u64 c0 = *(__u64*)&t->comm[0];
  __u64 c1 = *(__u64*)&t->comm[8];
  if (s->has_class && s->comm[0] == c0 && s->comm[1] == c1) return;
  s->comm[0] = c0;
  s->comm[1] = c1;
  s->thread_class = assign_class(c0, c1) & 0xffff;
  s->has_class = 1;
}

/* switch_in closes the pending interval of target task `tgid`/`s`. */
static __always_inline void switch_in(struct offcpu_task* s, __u32 tgid, __u64 now) {
  __u64 delta = now - s->out_ns;
  s->out_ns = 0;
  if ((__s64)delta < 0) return;

  __u32 idx = ((__u32)s->target * (max_classes + 1) + s->thread_class) * OFFCPU_REASONS + s->reason;
  struct offcpu_hist* h = NULL;
  if (s->target < hist_targets && s->thread_class <= max_classes && s->reason < OFFCPU_REASONS) {
    h = bpf_map_lookup_elem(&hists, &idx);
  }
  if (h) {
    __u32 b = bucket_of(delta);
    if (b < OFFCPU_BUCKETS) __sync_fetch_and_add(&h->buckets[b], 1);
    __sync_fetch_and_add(&h->sum_ns, delta);
  } else {
    count_drop(0);
  }

  if (!s->sampled) return;
  s->sampled = 0;
  if (delta < stack_min_ns) return;
  struct offcpu_stack_key sk = {.tgid = tgid,
                                .user_stack = s->user_stack,
                                .kern_stack = s->kern_stack,
                                .target = s->target,
                                .thread_class = s->thread_class};
  struct offcpu_stack_value* v = bpf_map_lookup_elem(&stack_counts, &sk);
  if (!v) {
    struct offcpu_stack_value first = {.total_ns = delta, .count = 1};
    long err = bpf_map_update_elem(&stack_counts, &sk, &first, BPF_NOEXIST);
    if (err == 0) return;
    if (err != -EEXIST) {
      count_drop(3);
      return;
    }
    v = bpf_map_lookup_elem(&stack_counts, &sk);
    if (!v) return;
  }
  __sync_fetch_and_add(&v->total_ns, delta);
  __sync_fetch_and_add(&v->count, 1);
}

/* switch_out records that target task `prev` (current) leaves the CPU. */
static __always_inline void switch_out(void* ctx, struct task_struct* prev, struct offcpu_task* s,
                                       __u8 tbyte, bool preempt, __u32 state, __u64 now) {
  if (s->out_ns) {
    /* The switch-in that closed the last interval was never seen (the kernel
     * skips this program for some switches). The task has run for `ran` ns
     * since it came back: close the interval then, or count it lost. */
    __u64 ran = prev->se.sum_exec_runtime - prev->se.prev_sum_exec_runtime;
    if (ran < now - s->out_ns) {
      switch_in(s, prev->tgid, now - ran);
      count_drop(4);
    } else {
      s->out_ns = 0;
      count_drop(1);
    }
  }
  s->target = (tbyte & OFFCPU_TARGET_INDEX_MASK) - 1;
  class_of(prev, s);
  s->reason = reason_of(prev, preempt, state, s);
  s->sampled = 0;
  if (stack_threshold && stacks_on && bpf_get_prandom_u32() < stack_threshold) {
    s->user_stack = bpf_get_stackid(ctx, &user_stacks, BPF_F_USER_STACK);
    s->kern_stack = bpf_get_stackid(ctx, &kern_stacks, 0);
    /* -EFAULT for the user stack: a thread without one; not a loss. */
    if ((s->user_stack < 0 && s->user_stack != -EFAULT) || s->kern_stack < 0) count_drop(2);
    s->sampled = 1;
  }
  s->out_ns = now;
}

static __always_inline void on_fork(__u32 parent_tgid, __u32 child_tgid) {
  if (parent_tgid == child_tgid) return; /* a new thread, not a new process */
  __u8 b = target_byte(parent_tgid);
  if (!(b & OFFCPU_TARGET_INHERIT)) return;
  __u32 word = child_tgid >> 3;
  if (word >= table_words) return;
  /* Untracked children would stay targets forever: when user space cannot be
   * told, leave the child to its next /proc scan. */
  if (bpf_map_update_elem(&forked, &child_tgid, &b, BPF_ANY)) return;
  __u8* w = bpf_map_lookup_elem(&target_table, &word);
  if (w) w[child_tgid & 7] = b;
}

/* on_exec: a process the kernel side adopted on fork that now runs another
 * program stops being a target at once; user space's next scan adds it back
 * if the new program matches a target too. */
static __always_inline void on_exec(__u32 tgid) {
  __u32 word = tgid >> 3;
  if (word >= table_words || !target_byte(tgid)) return;
  if (!bpf_map_lookup_elem(&forked, &tgid)) return;
  __u8* w = bpf_map_lookup_elem(&target_table, &word);
  if (w) w[tgid & 7] = 0;
}

/* ---- tp_btf flavour: task storage ---------------------------------------- */

SEC("tp_btf/sched_switch")
int BPF_PROG(offcpu_switch, bool preempt, struct task_struct* prev, struct task_struct* next) {
  __u32 state = use_state_arg ? (__u32)ctx[3] : task_state(prev);
  __u64 now = 0;

  if (!(prev->flags & PF_KTHREAD)) {
    __u8 tbyte = target_byte(prev->tgid);
    if (tbyte) {
      struct offcpu_task* s =
          bpf_task_storage_get(&task_slots, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
      if (s) {
        now = now_ns(prev);
        if (now) switch_out(ctx, prev, s, tbyte, preempt, state, now);
      } else {
        count_drop(1);
      }
    }
  }

  __u32 next_tgid = next->tgid;
  if (target_byte(next_tgid)) {
    struct offcpu_task* s = bpf_task_storage_get(&task_slots, next, 0, 0);
    if (s && s->out_ns) {
      if (!now) now = now_ns(prev);
      if (now) switch_in(s, next_tgid, now);
    }
  }
  return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(offcpu_fork, struct task_struct* parent, struct task_struct* child) {
  on_fork(parent->tgid, child->tgid);
  return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(offcpu_exec, struct task_struct* p) {
  on_exec(p->tgid);
  return 0;
}

/* offcpu_noop does nothing. The benchmark attaches it instead of the others
 * to measure what any program on sched_switch costs (the floor). */
SEC("tp_btf/sched_switch")
int BPF_PROG(offcpu_noop) { return 0; }

/* ---- raw_tp flavour: tid-keyed LRU hash ------------------------------------ */

static __always_inline struct offcpu_task* tid_slot(__u32 tid, bool create) {
  struct offcpu_task* s = bpf_map_lookup_elem(&tid_slots, &tid);
  if (s || !create) return s;
  struct offcpu_task fresh = {};
  bpf_map_update_elem(&tid_slots, &tid, &fresh, BPF_NOEXIST);
  return bpf_map_lookup_elem(&tid_slots, &tid);
}

SEC("raw_tp/sched_switch")
int offcpu_sw_raw(struct bpf_raw_tracepoint_args* ctx) {
  bool preempt = ctx->args[0];
  /* At sched_switch the previous task is still current. */
  struct task_struct* prev = bpf_get_current_task_btf();
  struct task_struct* next = (struct task_struct*)ctx->args[2];
  __u32 state = use_state_arg ? (__u32)ctx->args[3] : task_state(prev);
  __u64 now = 0;

  if (!(prev->flags & PF_KTHREAD)) {
    __u8 tbyte = target_byte(prev->tgid);
    if (tbyte) {
      struct offcpu_task* s = tid_slot(prev->pid, true);
      if (s) {
        now = now_ns(prev);
        if (now) switch_out(ctx, prev, s, tbyte, preempt, state, now);
      } else {
        count_drop(1);
      }
    }
  }

  __u32 next_tgid = BPF_CORE_READ(next, tgid);
  if (target_byte(next_tgid)) {
    struct offcpu_task* s = tid_slot(BPF_CORE_READ(next, pid), false);
    if (s && s->out_ns) {
      if (!now) now = now_ns(prev);
      if (now) switch_in(s, next_tgid, now);
    }
  }
  return 0;
}

SEC("raw_tp/sched_process_fork")
int offcpu_fork_raw(struct bpf_raw_tracepoint_args* ctx) {
  struct task_struct* parent = (struct task_struct*)ctx->args[0];
  struct task_struct* child = (struct task_struct*)ctx->args[1];
  on_fork(BPF_CORE_READ(parent, tgid), BPF_CORE_READ(child, tgid));
  return 0;
}

SEC("raw_tp/sched_process_exec")
int offcpu_exec_raw(struct bpf_raw_tracepoint_args* ctx) {
  on_exec(BPF_CORE_READ((struct task_struct*)ctx->args[0], tgid));
  return 0;
}
