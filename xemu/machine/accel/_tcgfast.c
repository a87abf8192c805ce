/*
 * xemu's compiled part for TCG: the TLB-fill hook of a Unicorn engine.
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
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {            /* struct uc_tlb_entry */
    uint64_t paddr;
    int perms;              /* uc_prot: UC_PROT_READ 1, WRITE 2, EXEC 4 */
} uc_tlb_entry;

enum { UC_PROT_ALL = 7 };
enum { UC_MEM_FETCH = 18 }; /* uc_mem_type */
enum { UC_CTL_TLB_FLUSH = 11, UC_CTL_IO_WRITE = 1 };
#define UC_CTL_WRITE(type) ((type) | (UC_CTL_IO_WRITE << 30))

typedef int (*uc_ctl_fn)(void *uc, int control, ...);

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
} xt_table;

/* The layout of this library's calls: Python refuses a library that
 * answers another number (an older build found on sys.path). */
int xt_abi(void)
{
    return 1;
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
