/* fiber.cc: fiber switching and the stack pool (see fiber.h). */
#include "fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#if !defined(__x86_64__) && !defined(__aarch64__)
#include <ucontext.h>
#endif

namespace baton_emu {

/* 64 KiB: kernels keep their locals in a few hundred bytes, but printf from a kernel and the
 * emulator's own frames on top of a suspended thread need some room. Pages are committed only
 * when touched, so a block of 1024 fibers costs about two pages each. */
static const size_t STACK_BYTES = 64 * 1024;

/* The free fibers. They live until exit (their slabs stay mapped); the destructor deletes them, so
 * that a leak checker at exit sees only the fibers a launch never gave back. */
struct stack_pool {
    std::vector<fiber *> free;
    ~stack_pool()
    {
        for (fiber *f : free) {
#if !defined(__x86_64__) && !defined(__aarch64__)
            delete (ucontext_t *)f->uctx;
#endif
            delete f;
        }
    }
};
static stack_pool pool;

/* Stacks come in slabs of SLAB fibers, one mapping each: a mapping per stack with its own guard
 * page would cost two of the kernel's memory maps per fiber, and a cooperative grid that fills an
 * H100 (up to 270k threads) would run out of them (vm.max_map_count, 65530 by default). Below
 * each stack lies a gap whose top CANARY bytes hold a pattern; fiber_put checks it, so a thread
 * that overflowed its stack is reported instead of silently corrupting its neighbour's. */
static const size_t SLAB = 64, GAP = 4096, CANARY = 256;
static const unsigned char CANARY_BYTE = 0xcb;

static void overflowed(const fiber *f)
{
    std::fprintf(stderr, "baton-emu: error: a kernel thread overflowed its %zu KiB stack (fiber stack at %p)\n",
                 STACK_BYTES / 1024, (void *)f->stack);
    std::abort();
}

static void map_slab()
{
    size_t each = GAP + STACK_BYTES;
    char *m = (char *)mmap(nullptr, SLAB * each, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                           -1, 0);
    if (m == MAP_FAILED) {
        std::fprintf(stderr, "baton-emu: cannot map %zu fiber stacks of %zu KiB (out of memory)\n", SLAB,
                     STACK_BYTES / 1024);
        std::abort();
    }
    for (size_t i = 0; i < SLAB; i++) {
        fiber *f = new fiber;
        f->stack = m + i * each + GAP;
        f->stack_bytes = STACK_BYTES;
        std::memset(f->stack - CANARY, CANARY_BYTE, CANARY);
#if !defined(__x86_64__) && !defined(__aarch64__)
        f->uctx = new ucontext_t;
#endif
        pool.free.push_back(f);
    }
}

size_t fiber_stack_bytes()
{
    return STACK_BYTES;
}

#if defined(__x86_64__)
/* baton_emu_switch(void **save_sp, void *load_sp): pushes the callee-saved registers, stores rsp,
 * loads the other stack and pops its registers. A new stack is prepared so that the first switch
 * "returns" into baton_emu_trampoline with the fiber in r12. */
extern "C" void baton_emu_switch(void **save_sp, void *load_sp);
extern "C" void baton_emu_trampoline();
asm(R"(
    .text
    .globl baton_emu_switch
    .type baton_emu_switch,@function
baton_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size baton_emu_switch,.-baton_emu_switch
    .globl baton_emu_trampoline
    .type baton_emu_trampoline,@function
baton_emu_trampoline:
    movq %r12, %rdi
    call baton_emu_fiber_main
    ud2
    .size baton_emu_trampoline,.-baton_emu_trampoline
    .section .note.GNU-stack,"",@progbits
    .text
)");
#elif defined(__aarch64__)
extern "C" void baton_emu_switch(void **save_sp, void *load_sp);
extern "C" void baton_emu_trampoline();
asm(R"(
    .text
    .globl baton_emu_switch
    .type baton_emu_switch,%function
baton_emu_switch:
    sub sp, sp, #176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mov x2, sp
    str x2, [x0]
    mov sp, x1
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    add sp, sp, #176
    ret
    .size baton_emu_switch,.-baton_emu_switch
    .globl baton_emu_trampoline
    .type baton_emu_trampoline,%function
baton_emu_trampoline:
    mov x0, x19
    bl baton_emu_fiber_main
    brk #0
    .size baton_emu_trampoline,.-baton_emu_trampoline
    .section .note.GNU-stack,"",%progbits
    .text
)");
#endif

extern "C" void baton_emu_fiber_main(fiber *f)
{
    f->entry(f->arg);
    std::fprintf(stderr, "baton-emu: internal error: a fiber's entry returned\n");
    std::abort();
}

#if !defined(__x86_64__) && !defined(__aarch64__)
static void uctx_entry(unsigned lo, unsigned hi)
{
    baton_emu_fiber_main((fiber *)(((uintptr_t)hi << 32) | lo));
}
#endif

/* Sets the stack up so that the first resume enters baton_emu_fiber_main(f). */
static void prepare(fiber *f)
{
    char *top = f->stack + f->stack_bytes;
#if defined(__x86_64__)
    void **sp = (void **)top;
    /* ret pops this and leaves rsp = top (16-aligned), so the trampoline's call enters
     * baton_emu_fiber_main with the ABI's alignment */
    *--sp = (void *)baton_emu_trampoline;
    *--sp = nullptr;                           /* rbp */
    *--sp = nullptr;                           /* rbx */
    *--sp = (void *)f;                         /* r12: the fiber */
    *--sp = nullptr;                           /* r13 */
    *--sp = nullptr;                           /* r14 */
    *--sp = nullptr;                           /* r15 */
    unsigned csr[2];
    asm volatile("stmxcsr %0" : "=m"(csr[0]));
    asm volatile("fnstcw %0" : "=m"(csr[1]));
    *--sp = (void *)(((uintptr_t)csr[1] << 32) | csr[0]);
    f->sp = sp;
#elif defined(__aarch64__)
    void **sp = (void **)(top - 176);
    for (int i = 0; i < 22; i++)
        sp[i] = nullptr;
    sp[0] = (void *)f;                         /* x19 */
    sp[11] = (void *)baton_emu_trampoline;     /* x30: ret target */
    f->sp = sp;
#else
    ucontext_t *uc = (ucontext_t *)f->uctx;
    getcontext(uc);
    uc->uc_stack.ss_sp = f->stack;
    uc->uc_stack.ss_size = f->stack_bytes;
    uc->uc_link = nullptr;
    uintptr_t p = (uintptr_t)f;
    makecontext(uc, (void (*)())uctx_entry, 2, (unsigned)p, (unsigned)(p >> 32));
#endif
}

fiber *fiber_get(void (*entry)(void *), void *arg)
{
    if (pool.free.empty())
        map_slab();
    fiber *f = pool.free.back();
    pool.free.pop_back();
    f->entry = entry;
    f->arg = arg;
    prepare(f);
    return f;
}

void fiber_put(fiber *f)
{
    for (size_t i = 1; i <= CANARY; i++)
        if ((unsigned char)f->stack[-(ptrdiff_t)i] != CANARY_BYTE)
            overflowed(f);
    pool.free.push_back(f);
}

void fiber_resume(fiber_host *host, fiber *f)
{
#if defined(__x86_64__) || defined(__aarch64__)
    baton_emu_switch(&host->sp, f->sp);
#else
    static ucontext_t host_uc;
    host->uctx = &host_uc;
    swapcontext(&host_uc, (ucontext_t *)f->uctx);
#endif
}

void fiber_yield(fiber_host *host, fiber *f)
{
#if defined(__x86_64__) || defined(__aarch64__)
    baton_emu_switch(&f->sp, host->sp);
#else
    swapcontext((ucontext_t *)f->uctx, (ucontext_t *)host->uctx);
#endif
}

} // namespace baton_emu
