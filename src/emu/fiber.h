/* fiber.h: user-space fibers for the CUDA emulation: every emulated GPU thread runs on its own
 * fiber (its own stack and program counter), so that __syncthreads, warp shuffles and grid
 * barriers can suspend it mid-kernel and resume it later, as the hardware does. Switching is a
 * few saved registers (x86-64 and AArch64 assembly; ucontext elsewhere); stacks are pooled, mapped
 * in slabs, and sit above a canary that fiber_put checks, so a kernel thread that overflowed its
 * stack is reported (and the process stops) instead of silently corrupting memory. */
#ifndef BATON_EMU_FIBER_H
#define BATON_EMU_FIBER_H

#include <cstddef>

namespace baton_emu {

struct fiber {
    void *sp = nullptr;       /* saved stack pointer while suspended */
    char *stack = nullptr;    /* lowest usable byte */
    size_t stack_bytes = 0;
    void (*entry)(void *) = nullptr;
    void *arg = nullptr;
#if !defined(__x86_64__) && !defined(__aarch64__)
    void *uctx = nullptr;     /* ucontext_t of the fallback */
#endif
};

/* The scheduler's side of every switch: the host thread's own context. */
struct fiber_host {
    void *sp = nullptr;
#if !defined(__x86_64__) && !defined(__aarch64__)
    void *uctx = nullptr;
#endif
};

/* Takes a fiber from the pool (or maps a new slab of stacks) that will run entry(arg) when first resumed. */
fiber *fiber_get(void (*entry)(void *), void *arg);

/* Returns a fiber to the pool; it must not be running (finished or abandoned). Stops the process
 * with an error when the fiber's stack canary was overwritten (a stack overflow). */
void fiber_put(fiber *f);

/* Runs f from where it stopped (or its entry) until it calls fiber_yield; on host's stack. */
void fiber_resume(fiber_host *host, fiber *f);

/* From inside f: suspends it and returns to the fiber_resume that ran it. */
void fiber_yield(fiber_host *host, fiber *f);

/* Bytes of each fiber's stack. */
size_t fiber_stack_bytes();

} // namespace baton_emu

#endif
