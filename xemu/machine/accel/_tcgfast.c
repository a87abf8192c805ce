/*
 * xemu's compiled part for TCG: the TLB-fill hook of a Unicorn engine, the
 * engine's system call entry (below the fill hook), and a host signal
 * handler that keeps each signal's siginfo (at the end).
 *
 * Why it exists: Unicorn 2.1.2+ sends every guest store through a C slow
 * path (tens of ns instead of about 2) while its TLB entry for the page is
 * executable or any memory hook is installed, and its default TLB, with the
 * guest's MMU off, gives every page all rights. With UC_TLB_VIRTUAL and this
 * hook each page gets the rights of the guest region it lies in, so a data
 * page is read-write without execute and its stores stay on the fast path.
 * (A Python hook would cost microseconds a fill: unusable.)
 *
 * Plain C with no Python API and no Unicorn header: Python (ctypes) keeps
 * the table up to date from the memory map, and gives the hook's address
 * to uc_hook_add through the pip package's own library handle. The types
 * below are Unicorn 2.1's (include/unicorn/unicorn.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef struct {            /* struct uc_tlb_entry */
    uint64_t paddr;
    int perms;              /* uc_prot: UC_PROT_READ 1, WRITE 2, EXEC 4 */
} uc_tlb_entry;

enum { UC_PROT_ALL = 7 };
enum { UC_MEM_FETCH = 18 }; /* uc_mem_type */
enum { UC_CTL_TLB_FLUSH = 11, UC_CTL_IO_WRITE = 1 };
#define UC_CTL_WRITE(type) ((type) | (UC_CTL_IO_WRITE << 30))

typedef int (*uc_ctl_fn)(void *uc, int control, ...);
typedef int (*uc_reg_fn)(void *uc, int regid, void *value);

typedef struct {
    uint64_t start, end;    /* [start, end) */
    int perms;
} xt_region;

typedef struct {
    xt_region *regions;     /* sorted by start, never overlapping */
    size_t count, capacity;
    /* Every address gets all rights, so Unicorn's own checks of its memory
     * map and the invalid-memory hooks decide (watchpoints, the replay of a
     * fault to learn its address). */
    int permissive;
    /* Unicorn's TLB starts at 256 entries and resizes only on a flush: a
     * flush after `interval` fills lets it grow to the working set. The
     * interval doubles after each (so a working set larger than the TLB
     * cannot turn the refills into a storm of flushes) and starts again at
     * flush_every when the map grows (0: never flush). */
    uint64_t flush_every, interval, since_flush;
    uc_ctl_fn ctl;
    uint64_t fills, flushes;
    /* State bits a data fill clears (see xt_clear_on_fill); mask 0: none. */
    uc_reg_fn reg_read, reg_write;
    int clear_register;
    uint64_t clear_mask;
} xt_table;

/* The layout of this library's calls: Python refuses a library that
 * answers another number (an older build found on sys.path). */
int xt_abi(void)
{
    return 5;
}

/* ctl: libunicorn's uc_ctl, which the hook calls to flush the TLB. */
xt_table *xt_new(uc_ctl_fn ctl, uint64_t flush_every)
{
    xt_table *t = calloc(1, sizeof *t);
    if (t) {
        t->ctl = ctl;
        t->flush_every = t->interval = flush_every;
    }
    return t;
}

void xt_free(xt_table *t)
{
    if (t) {
        free(t->regions);
        free(t);
    }
}

/* Index of the first region whose end lies above address. */
static size_t first_above(const xt_table *t, uint64_t address)
{
    size_t lo = 0, hi = t->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->regions[mid].end <= address)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int reserve(xt_table *t, size_t more)
{
    if (t->count + more <= t->capacity)
        return 0;
    size_t capacity = t->capacity ? t->capacity : 16;
    while (capacity < t->count + more)
        capacity *= 2;
    xt_region *grown = realloc(t->regions, capacity * sizeof *grown);
    if (!grown)
        return -1;
    t->regions = grown;
    t->capacity = capacity;
    return 0;
}

/* Forget [start, end): regions inside go, regions across its edges are cut.
 * -1 if memory ran out (a region split in two needs one more slot). */
int xt_remove(xt_table *t, uint64_t start, uint64_t end)
{
    size_t i = first_above(t, start);
    if (i < t->count && t->regions[i].start < start && t->regions[i].end > end) {
        if (reserve(t, 1))
            return -1;
        memmove(&t->regions[i + 2], &t->regions[i + 1],
                (t->count - i - 1) * sizeof(xt_region));
        t->regions[i + 1] = t->regions[i];
        t->regions[i].end = start;
        t->regions[i + 1].start = end;
        t->count++;
        return 0;
    }
    if (i < t->count && t->regions[i].start < start) {
        t->regions[i].end = start;
        i++;
    }
    size_t j = i;
    while (j < t->count && t->regions[j].end <= end)
        j++;
    if (j < t->count && t->regions[j].start < end)
        t->regions[j].start = end;
    memmove(&t->regions[i], &t->regions[j], (t->count - j) * sizeof(xt_region));
    t->count -= j - i;
    return 0;
}

/* [start, end) now has these rights (whatever was there before). */
int xt_add(xt_table *t, uint64_t start, uint64_t end, int perms)
{
    if (end <= start)
        return 0;
    if (xt_remove(t, start, end) || reserve(t, 1))
        return -1;
    size_t i = first_above(t, start);
    memmove(&t->regions[i + 1], &t->regions[i], (t->count - i) * sizeof(xt_region));
    t->regions[i].start = start;
    t->regions[i].end = end;
    t->regions[i].perms = perms;
    t->count++;
    t->interval = t->flush_every;
    return 0;
}

/* Unicorn 2.1.x's fill (unicorn_fill_tlb) first rolls the CPU state back
 * to the faulting instruction with cpu_restore_state, and then lets the
 * block go on. On ARM that writes the instruction's IT-block state into
 * CPSR, where QEMU's translated code keeps 0 while a block runs: the bits
 * outlive the block, and the next block is translated as if inside an IT
 * block (conditional code skipped, a `beq.w` raising SIGILL). A data fill
 * therefore clears these bits of this register (read and written with
 * reg_read and reg_write: libunicorn's uc_reg_read and uc_reg_write).
 * Unicorn's later sources restore only the pc there. */
void xt_clear_on_fill(xt_table *t, uc_reg_fn reg_read, uc_reg_fn reg_write, int regid,
                      uint64_t mask)
{
    t->reg_read = reg_read;
    t->reg_write = reg_write;
    t->clear_register = regid;
    t->clear_mask = mask;
}
void xt_set_permissive(xt_table *t, int permissive)
{
    t->permissive = permissive;
}


/* The rights the hook gives a data access at address, -1 if it refuses
 * it (for tests). */
int xt_lookup(const xt_table *t, uint64_t address)
{
    if (t->permissive)
        return UC_PROT_ALL;
    size_t i = first_above(t, address);
    if (i < t->count && t->regions[i].start <= address)
        return t->regions[i].perms;
    return -1;
}

uint64_t xt_fills(const xt_table *t)
{
    return t->fills;
}

uint64_t xt_flushes(const xt_table *t)
{
    return t->flushes;
}

/* uc_cb_tlbevent_t: the rights of the page of vaddr. Unicorn checks the
 * access against them and, when they lack it or this returns false, stops
 * with UC_ERR_EXCEPTION, the pc on the instruction but no address: xemu
 * replays the instruction to learn it. */
bool xt_fill(void *uc, uint64_t vaddr, int type, uc_tlb_entry *result, void *data)
{
    xt_table *t = data;
    t->fills++;
    if (t->interval && ++t->since_flush >= t->interval) {
        /* Before this entry is set: QEMU's fill may resize the TLB (its
         * callers look their entry up again after it). */
        t->since_flush = 0;
        if (t->interval < ((uint64_t)1 << 40))
            t->interval *= 2;
        t->flushes++;
        t->ctl(uc, UC_CTL_WRITE(UC_CTL_TLB_FLUSH));
    }
    if (t->clear_mask && type != UC_MEM_FETCH) {
        uint64_t value = 0;
        if (t->reg_read(uc, t->clear_register, &value) == 0 && (value & t->clear_mask)) {
            value &= ~t->clear_mask;
            t->reg_write(uc, t->clear_register, &value);
        }
    }
    result->paddr = vaddr;
    if (t->permissive) {
        result->perms = UC_PROT_ALL;
        return true;
    }
    size_t i = first_above(t, vaddr);
    if (i < t->count && t->regions[i].start <= vaddr) {
        result->perms = t->regions[i].perms;
        return true;
    }
    if (type == UC_MEM_FETCH) {
        /* Unmapped code: all rights, as Unicorn's own TLB gives, so that it
         * finds no memory there. It looks blocks up where nothing runs (at
         * emu_start's end once stopped, at the pc a finished run left), and
         * a refused fetch would end the run; code that does run there ends
         * it with UC_ERR_FETCH_UNMAPPED, which names no address either. */
        result->perms = UC_PROT_ALL;
        return true;
    }
    return false;
}


/*
 * The system call entry: the engine's syscall hook (an interrupt hook, or
 * x86-64's `syscall` instruction hook).
 *
 * Why it exists: a call served through the binding's Python hook costs
 * about 3.5 us (a ctypes callback, a batch read of the registers, the
 * dispatcher, a batch write), against 0.3 us under qemu-user. Here the
 * number and arguments are read with one C call; the calls the Linux layer
 * marked as servable without Python (a table by number, which it keeps up
 * to date) are answered at once, and any other call, or any case of a
 * marked call this code is not sure of (a clock it does not know, a pointer
 * it cannot write), goes to Python with the registers already read.
 */
enum {                      /* xs_call.kind */
    XS_PYTHON = 0,          /* Python serves it */
    XS_HOST = 1,            /* the host's own call of host_number, no arguments */
    XS_CLOCK = 2,           /* clock_gettime(id, ts) into two word-sized fields */
    XS_TIMEOFDAY = 3,       /* gettimeofday(tv, NULL) into two word-sized fields */
    XS_TIME = 4,            /* time(NULL) */
    XS_WRITE = 5,           /* write(fd, buf, count) to a host fd from a table */
};
enum { PROT_WRITE_BIT = 2, PROT_EXEC_BIT = 4 };
#define XS_MAX_NUMBER 4096  /* larger numbers (ARM's private calls) go to Python */
#define XS_WRITE_MAX 4096   /* larger writes go to Python */

typedef struct {
    int32_t kind;
    int32_t host_number;    /* XS_HOST */
    uint64_t limit;         /* XS_HOST: an answer above limit (if not 0) ... */
    uint64_t overflow;      /* ... is this instead (the 16-bit id calls) */
    uint32_t word;          /* XS_CLOCK, XS_TIMEOFDAY: bytes per field */
    uint64_t clocks;        /* XS_CLOCK: the clock ids served, a bit each */
    const int32_t *fds;     /* XS_WRITE: host fd by guest fd, -1: not here */
    uint32_t nfds;
} xs_call;

/* libunicorn's uc_reg_read_batch, uc_reg_write_batch, uc_mem_write, uc_mem_read */
typedef int (*uc_batch_fn)(void *uc, int *ids, void **values, int count);
typedef int (*uc_mem_write_fn)(void *uc, uint64_t address, const void *bytes, uint64_t size);
typedef int (*uc_mem_read_fn)(void *uc, uint64_t address, void *bytes, uint64_t size);
/* Python: serve the call in values (number, six arguments, the error flag's
 * register) and answer the result word, or call xs_skip_write. */
typedef uint64_t (*xs_python_fn)(void);
/* Python: an interrupt that is not the system call. */
typedef void (*xs_interrupt_fn)(uint32_t number);

typedef struct {
    void *uc;
    uc_batch_fn read_batch, write_batch;
    uc_mem_write_fn mem_write;
    uc_mem_read_fn mem_read;
    const xt_table *fill;   /* the guest's regions and rights; NULL: write nothing */
    int ids[8], count;      /* number, six arguments, [the error flag's register] */
    int write_ids[2], write_count;  /* result, [the error flag's register] */
    uint64_t error_bit;     /* PowerPC's CR0.SO, set on failure (0: none) */
    uint64_t mask;          /* the guest's word */
    int big_endian;
    int64_t interrupt;      /* the syscall's interrupt number; -1: none */
    xs_call *calls;         /* by number; XS_PYTHON where not marked */
    size_t ncalls;
    xs_python_fn python;
    xs_interrupt_fn other_interrupt;
    uint64_t values[8];
    void *value_ptrs[8];
    uint64_t written[2];
    void *written_ptrs[2];
    int skip_write;
    uint64_t served_in_c, served_in_python;
} xs_entry;

xs_entry *xs_new(void *uc, uc_batch_fn read_batch, uc_batch_fn write_batch,
                 uc_mem_write_fn mem_write, uc_mem_read_fn mem_read)
{
    xs_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->uc = uc;
    e->read_batch = read_batch;
    e->write_batch = write_batch;
    e->mem_write = mem_write;
    e->mem_read = mem_read;
    e->interrupt = -1;
    for (int i = 0; i < 8; i++)
        e->value_ptrs[i] = &e->values[i];
    for (int i = 0; i < 2; i++)
        e->written_ptrs[i] = &e->written[i];
    return e;
}

void xs_free(xs_entry *e)
{
    if (e) {
        free(e->calls);
        free(e);
    }
}

/* ids: the number's register, the six arguments', then the error flag's
 * if error_bit is not 0; result_id: where the result goes. */
void xs_set_registers(xs_entry *e, const int *ids, int result_id, uint64_t error_bit,
                      int bits, int big_endian, int64_t interrupt)
{
    e->count = error_bit ? 8 : 7;
    memcpy(e->ids, ids, e->count * sizeof(int));
    e->write_ids[0] = result_id;
    e->write_ids[1] = ids[7];
    e->write_count = error_bit ? 2 : 1;
    e->error_bit = error_bit;
    e->mask = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
    e->big_endian = big_endian;
    e->interrupt = interrupt;
}

void xs_set_python(xs_entry *e, xs_python_fn python, xs_interrupt_fn other_interrupt)
{
    e->python = python;
    e->other_interrupt = other_interrupt;
}

void xs_set_fill(xs_entry *e, const xt_table *fill)
{
    e->fill = fill;
}

/* Every call goes to Python again. */
void xs_clear_calls(xs_entry *e)
{
    free(e->calls);
    e->calls = NULL;
    e->ncalls = 0;
}

/* Mark one call; -1 if the number is too large or memory ran out. fds
 * (XS_WRITE) is Python's, and stays where it is while marked. */
int xs_set_call(xs_entry *e, uint64_t number, int kind, int host_number, uint64_t limit,
                uint64_t overflow, uint32_t word, uint64_t clocks, const int32_t *fds,
                uint32_t nfds)
{
    if (number >= XS_MAX_NUMBER || (word != 0 && word != 4 && word != 8))
        return -1;
    if (number >= e->ncalls) {
        xs_call *grown = realloc(e->calls, (number + 1) * sizeof *grown);
        if (!grown)
            return -1;
        memset(&grown[e->ncalls], 0, (number + 1 - e->ncalls) * sizeof *grown);
        e->calls = grown;
        e->ncalls = number + 1;
    }
    xs_call call = {kind, host_number, limit, overflow, word, clocks, fds, nfds};
    e->calls[number] = call;
    return 0;
}

/* The registers Python is given: number, six arguments, the flag register. */
uint64_t *xs_values(xs_entry *e)
{
    return e->values;
}

/* From Python's callback: it has set the registers itself (sigreturn, a
 * stop): write no result. */
void xs_skip_write(xs_entry *e)
{
    e->skip_write = 1;
}

uint64_t xs_served_in_c(const xs_entry *e)
{
    return e->served_in_c;
}

uint64_t xs_served_in_python(const xs_entry *e)
{
    return e->served_in_python;
}

/* The rights of the one region that holds [address, address + size), -1
 * if none does (or the table is not the guest's rights now). */
static int rights(const xs_entry *e, uint64_t address, uint64_t size)
{
    const xt_table *t = e->fill;
    if (!t || t->permissive || address + size < address)
        return -1;
    size_t i = first_above(t, address);
    if (i >= t->count || t->regions[i].start > address || t->regions[i].end < address + size)
        return -1;
    return t->regions[i].perms;
}

/* May a call write [address, address + size) as the kernel would? Only in
 * one data region the guest may write and that holds no code (a write to
 * code must drop its translations: Python does that). */
static bool writable(const xs_entry *e, uint64_t address, uint64_t size)
{
    int perms = rights(e, address, size);
    return perms >= 0 && (perms & PROT_WRITE_BIT) && !(perms & PROT_EXEC_BIT);
}

/* Two fields of `word` bytes each, in the guest's byte order. */
static bool write_pair(const xs_entry *e, uint64_t address, uint32_t word,
                       uint64_t first, uint64_t second)
{
    uint8_t bytes[16];
    uint64_t fields[2] = {first, second};
    for (int f = 0; f < 2; f++)
        for (uint32_t i = 0; i < word; i++)
            bytes[f * word + (e->big_endian ? word - 1 - i : i)] = (uint8_t)(fields[f] >> (8 * i));
    return e->mem_write(e->uc, address, bytes, 2 * word) == 0;
}

/* Serve a marked call here: true with *result set, false to let Python. */
static bool serve_in_c(xs_entry *e, const xs_call *call, uint64_t *result)
{
    const uint64_t *arg = &e->values[1];
    struct timespec now;
    switch (call->kind) {
    case XS_HOST: {
        uint64_t answer = (uint64_t)syscall(call->host_number);
        *result = call->limit && answer > call->limit ? call->overflow : answer;
        return true;
    }
    case XS_CLOCK: {
        uint64_t id = arg[0] & 0xFFFFFFFF;
        if (id >= 64 || !(call->clocks >> id & 1) || !writable(e, arg[1], 2 * call->word)
                || clock_gettime((clockid_t)id, &now))
            return false;
        *result = 0;
        return write_pair(e, arg[1], call->word, (uint64_t)now.tv_sec, (uint64_t)now.tv_nsec);
    }
    case XS_TIMEOFDAY:
        if (arg[1] != 0)            /* a time zone: Python writes it */
            return false;
        *result = 0;
        if (arg[0] == 0)
            return true;
        if (!writable(e, arg[0], 2 * call->word) || clock_gettime(CLOCK_REALTIME, &now))
            return false;
        return write_pair(e, arg[0], call->word, (uint64_t)now.tv_sec,
                          (uint64_t)now.tv_nsec / 1000);
    case XS_TIME:
        if (arg[0] != 0 || clock_gettime(CLOCK_REALTIME, &now))
            return false;
        *result = (uint64_t)now.tv_sec;
        return true;
    case XS_WRITE: {
        /* A read of guest memory needs any right, as on Linux here */
        int64_t fd = (int32_t)arg[0];
        uint64_t count = arg[2] & e->mask;
        uint8_t bytes[XS_WRITE_MAX];
        if (fd < 0 || fd >= call->nfds || call->fds[fd] < 0 || count == 0
                || count > XS_WRITE_MAX || rights(e, arg[1], count) <= 0
                || e->mem_read(e->uc, arg[1], bytes, count))
            return false;
        ssize_t done = write(call->fds[fd], bytes, count);
        if (done < 0)               /* nothing written: Python meets it again */
            return false;
        *result = (uint64_t)done;
        return true;
    }
    }
    return false;
}

/* The result as the arch returns it: PowerPC returns a positive errno and
 * sets CR0.SO, as the kernel does for an answer in [-4095, -1]. */
static void write_result(xs_entry *e, uint64_t result)
{
    result &= e->mask;
    if (!e->error_bit) {
        e->written[0] = result;
        e->write_batch(e->uc, e->write_ids, e->written_ptrs, 1);
        return;
    }
    int64_t as_signed = e->mask == UINT64_MAX ? (int64_t)result
        : (int64_t)(result ^ ((e->mask >> 1) + 1)) - (int64_t)((e->mask >> 1) + 1);
    bool failed = as_signed < 0 && as_signed > -4096;
    e->written[0] = failed ? (uint64_t)(-as_signed) : result;
    e->written[1] = failed ? e->values[7] | e->error_bit : e->values[7] & ~e->error_bit;
    e->write_batch(e->uc, e->write_ids, e->written_ptrs, 2);
}

static void serve(xs_entry *e)
{
    for (int i = 0; i < 8; i++)
        e->values[i] = 0;           /* a 32-bit register fills 4 bytes of its slot */
    e->read_batch(e->uc, e->ids, e->value_ptrs, e->count);
    uint64_t number = e->values[0] & e->mask, result;
    if (number < e->ncalls && e->calls[number].kind != XS_PYTHON
            && serve_in_c(e, &e->calls[number], &result)) {
        e->served_in_c++;
        write_result(e, result);
        return;
    }
    e->served_in_python++;
    e->skip_write = 0;
    result = e->python();
    if (!e->skip_write)
        write_result(e, result);
}

/* uc_cb_hookintr_t */
void xs_on_interrupt(void *uc, uint32_t number, void *data)
{
    xs_entry *e = data;
    if ((int64_t)number == e->interrupt)
        serve(e);
    else
        e->other_interrupt(number);
}

/* uc_cb_insn_syscall_t: x86-64's `syscall` */
void xs_on_syscall_instruction(void *uc, void *data)
{
    serve(data);
}


/*
 * Host signals sent to xemu for its guest, with their siginfo.
 *
 * Why it exists: Python's signal handlers are given the number alone, so
 * a signal from another process reached the guest without its sender's pid
 * and uid, and sigqueue's value was lost. This handler (SA_SIGINFO) writes
 * a fixed-size record of each to a pipe that the Linux layer's watcher
 * thread reads; write(2) is async-signal-safe, and a pipe write this small
 * is atomic.
 */
typedef struct {
    int32_t signo, code, pid;
    uint32_t uid;
    int32_t status;         /* SIGCHLD's si_status (shares the union with the value) */
    int32_t unused;
    int64_t value;          /* sigqueue's sigval, all of it */
} xs_signal_record;

static volatile int signal_fd = -1;

static void on_signal(int signo, siginfo_t *info, void *context)
{
    (void)context;
    int saved = errno;
    xs_signal_record record = {signo, info->si_code, info->si_pid, info->si_uid,
                               info->si_status, 0, (int64_t)(intptr_t)info->si_value.sival_ptr};
    int fd = signal_fd;
    if (fd >= 0 && write(fd, &record, sizeof record) < 0) {
        /* a full pipe: the signal is lost, as a full wakeup fd loses it */
    }
    errno = saved;
}

int xs_signal_record_size(void)
{
    return sizeof(xs_signal_record);
}

/* Where records go from now on (-1: nowhere). */
void xs_set_signal_fd(int fd)
{
    signal_fd = fd;
}

/* The handler takes signo from now on; -1 with errno on failure. */
int xs_catch_signal(int signo)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_signal;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    return sigaction(signo, &action, NULL);
}


/*
 * Guarded file mappings: a guest's MAP_SHARED mapping of a file is the
 * host's own shared mapping of it, so a page of it past the file's end
 * (the file was short, or was truncated since) raises SIGBUS in xemu when
 * translated code, KVM's memory or a system call touches it.
 *
 * Why it exists: that SIGBUS must become the guest's, not end xemu. The
 * handler below, for an address in a guarded range, maps a private zero
 * page over the page (so the access that faulted completes, and the ones
 * after it read zeros, as nothing can be stored there), notes the guest
 * address for the thread that faulted and asks its engine to stop at its
 * next block (the flag xg_bind_thread named: the engine's stop request).
 * Python then takes the note (xg_take_fault) and delivers SIGBUS with
 * BUS_ADRERR at that address. Any other SIGBUS is xemu's own: the default
 * action, as before.
 */
#include <sys/mman.h>

#define XG_RANGES 4096
typedef struct {
    volatile uintptr_t start, end;      /* host [start, end); end 0: free */
    volatile uint64_t guest;            /* the guest address of start */
} xg_range;

static xg_range xg_ranges[XG_RANGES];
static volatile int xg_used;            /* entries in use are below this */
static uintptr_t xg_page_size = 4096;
static __thread volatile int *xg_stop_flag;
static __thread uint64_t xg_fault_address;
static __thread int xg_fault_taken = 1;

static void on_sigbus(int signo, siginfo_t *info, void *context)
{
    (void)context;
    int saved = errno;
    uintptr_t address = (uintptr_t)info->si_addr;
    /* si_addr means something only in a fault the kernel raised (a
     * SIGBUS sent with kill(2) carries a pid and uid there instead) */
    for (int i = 0; info->si_code > 0 && i < xg_used; i++) {
        uintptr_t start = xg_ranges[i].start, end = xg_ranges[i].end;
        if (address < start || address >= end)
            continue;
        void *page = (void *)(address & ~(xg_page_size - 1));
        if (mmap(page, xg_page_size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
            break;
        if (xg_fault_taken) {           /* the first since Python last took one */
            xg_fault_address = xg_ranges[i].guest + (address - start);
            xg_fault_taken = 0;
        }
        if (xg_stop_flag)
            *xg_stop_flag = 1;
        errno = saved;
        return;
    }
    signal(signo, SIG_DFL);             /* not a guest's: it faults again, and ends xemu */
    errno = saved;
}

/* Guard host [start, end), which the guest sees at guest: its index, -1 if
 * the table is full. */
int xg_add(uint64_t start, uint64_t end, uint64_t guest)
{
    for (int i = 0; i < XG_RANGES; i++) {
        if (xg_ranges[i].end)
            continue;
        xg_ranges[i].start = start;
        xg_ranges[i].guest = guest;
        __atomic_store_n(&xg_ranges[i].end, end, __ATOMIC_RELEASE);
        if (i >= xg_used)
            __atomic_store_n(&xg_used, i + 1, __ATOMIC_RELEASE);
        return i;
    }
    return -1;
}

void xg_remove(int index)
{
    if (index >= 0 && index < XG_RANGES)
        __atomic_store_n(&xg_ranges[index].end, 0, __ATOMIC_RELEASE);
}

/* The SIGBUS handler, from now on; -1 with errno on failure. */
int xg_install(void)
{
    long size = sysconf(_SC_PAGESIZE);
    if (size > 0)
        xg_page_size = (uintptr_t)size;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    return sigaction(SIGBUS, &action, NULL);
}

/* The stop flag of the engine this thread runs (NULL: none). */
void xg_bind_thread(int *flag)
{
    xg_stop_flag = flag;
}

/* The guest address of this thread's first guarded fault since the last
 * call, and 1; or 0 if there was none. */
int xg_take_fault(uint64_t *address)
{
    if (xg_fault_taken)
        return 0;
    *address = xg_fault_address;
    xg_fault_taken = 1;
    return 1;
}
